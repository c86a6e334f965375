<#
.SYNOPSIS
    Installs and runs the Roster agent on a Windows server: writes its LDAP
    settings, registers it once, pushes a snapshot, and optionally installs a
    daily Scheduled Task that runs this script again.

.DESCRIPTION
    The Roster agent (roster-agent.exe) reads Active Directory over LDAPS (or
    LDAP with StartTLS) and pushes a signed snapshot to the Roster server over
    HTTPS. It only ever connects out.

    This script:
      1. writes the LDAP settings given as parameters to
         <StateDir>\roster-agent.toml (only when LDAP parameters are given;
         later runs reuse the file);
      2. registers the agent with -ServerUrl and -RegistrationToken if
         <StateDir>\agent.json does not exist yet (the agent then restricts
         <StateDir> to SYSTEM, Administrators and the current account);
      3. with -PromptLdapPassword, asks for the bind password and stores it in
         <StateDir>\ldap-password.txt (readable by SYSTEM and Administrators
         only once the agent is registered);
      4. with -Install, registers a daily Scheduled Task (as SYSTEM) that runs
         this script with -StateDir only;
      5. runs "roster-agent push" unless -NoPush, logging to <StateDir>\logs.

    The password is never passed on a command line, and neither is the
    registration token (it goes through the ROSTER_REGISTRATION_TOKEN
    environment variable of the agent's process).

.PARAMETER ServerUrl
    The Roster server, e.g. https://roster.example.com. Needed to register.

.PARAMETER RegistrationToken
    The one-time registration token an administrator created for the job in
    the Roster console. Needed to register; ignored once registered.

.PARAMETER LdapUrl
    The domain controller, e.g. ldaps://dc01.corp.example.com (preferred) or
    ldap://dc01.corp.example.com with -StartTls.

.PARAMETER BindDn
    The account the agent binds as: a DN, user@REALM or DOMAIN\user. A plain
    domain user is enough to read users, groups and OUs.

.PARAMETER LdapPasswordFile
    A file holding the bind password (one line). Default when
    -PromptLdapPassword is used: <StateDir>\ldap-password.txt.

.PARAMETER PromptLdapPassword
    Ask for the bind password and store it in <StateDir>\ldap-password.txt.

.PARAMETER BaseDn
    Base of all reads; default: the domain (rootDSE defaultNamingContext).

.PARAMETER LdapCaFile
    PEM file of the CA that issued the DC's certificate, if it is not in the
    Windows certificate store already.

.PARAMETER StartTls
    Use StartTLS on an ldap:// URL.

.PARAMETER StateDir
    The agent's state folder. Default: %ProgramData%\Roster\Agent.

.PARAMETER AgentExe
    Path to roster-agent.exe. Default: next to this script.

.PARAMETER Install
    Register (or replace) the daily Scheduled Task "Roster Agent".

.PARAMETER At
    Time of day for the Scheduled Task, local time (default 02:00).

.PARAMETER NoPush
    Do not run a push now (e.g. to only register and install the task).

.EXAMPLE
    .\Start-RosterAgent.ps1 -ServerUrl https://roster.example.com -RegistrationToken 'rt_...' `
        -LdapUrl ldaps://dc01.corp.example.com -BindDn 'CORP\svc-roster' -PromptLdapPassword -Install

    First installation: writes the settings, registers, stores the password,
    installs the daily task and pushes the first snapshot.

.EXAMPLE
    .\Start-RosterAgent.ps1

    A later run (what the Scheduled Task does): pushes with the stored settings.
#>
[CmdletBinding()]
param(
    [string]$ServerUrl,
    [string]$RegistrationToken,
    [string]$LdapUrl,
    [string]$BindDn,
    [string]$LdapPasswordFile,
    [switch]$PromptLdapPassword,
    [string]$BaseDn,
    [string]$LdapCaFile,
    [switch]$StartTls,
    [string]$StateDir = (Join-Path $env:ProgramData 'Roster\Agent'),
    [string]$AgentExe = (Join-Path $PSScriptRoot 'roster-agent.exe'),
    [switch]$Install,
    [string]$At = '02:00',
    [switch]$NoPush
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$StateDir = $StateDir.TrimEnd('\')
$ConfigFile = Join-Path $StateDir 'roster-agent.toml'
$RegistrationFile = Join-Path $StateDir 'agent.json'
$LogDir = Join-Path $StateDir 'logs'
$TaskName = 'Roster Agent'

# A TOML string: literal ('...') when possible, else basic with escapes.
function ConvertTo-TomlString([string]$Value) {
    if ($Value -notmatch "['\r\n]") { return "'$Value'" }
    $escaped = $Value.Replace('\', '\\').Replace('"', '\"').Replace("`r", '\r').Replace("`n", '\n')
    return "`"$escaped`""
}

# Quotes one argument for the Windows command line.
function ConvertTo-Argument([string]$Value) {
    if ($Value -notmatch '[\s"]') { return $Value }
    return '"' + ($Value -replace '(\\*)"', '$1$1\"' -replace '(\\+)$', '$1$1') + '"'
}

# Runs roster-agent.exe; stdout is returned, stderr (the log) goes to a file.
function Invoke-Agent([string]$Name, [string[]]$Arguments) {
    New-Item -ItemType Directory -Force -Path $LogDir | Out-Null
    $stamp = Get-Date -Format 'yyyyMMdd-HHmmss'
    $out = Join-Path $LogDir "$Name-$stamp.out"
    $log = Join-Path $LogDir "$Name-$stamp.log"
    $argumentLine = (@('--state-dir', $StateDir) + $Arguments | ForEach-Object { ConvertTo-Argument $_ }) -join ' '
    $process = Start-Process -FilePath $AgentExe -ArgumentList $argumentLine -NoNewWindow -Wait -PassThru `
        -RedirectStandardOutput $out -RedirectStandardError $log
    $result = Get-Content -Raw -ErrorAction SilentlyContinue $out
    if ($process.ExitCode -ne 0) {
        Get-Content -Tail 20 $log | ForEach-Object { Write-Warning $_ }
        throw "roster-agent $Name failed with exit code $($process.ExitCode); see $log"
    }
    Write-Verbose "roster-agent $Name log: $log"
    return $result
}

if (-not (Test-Path -LiteralPath $AgentExe -PathType Leaf)) {
    throw "roster-agent.exe not found at $AgentExe (use -AgentExe)"
}
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null

# 1. Settings.
if ($PromptLdapPassword -and -not $LdapPasswordFile) {
    $LdapPasswordFile = Join-Path $StateDir 'ldap-password.txt'
}
if ($LdapUrl -or $BindDn -or $BaseDn -or $LdapCaFile -or $StartTls) {
    if (-not ($LdapUrl -and $BindDn -and $LdapPasswordFile)) {
        throw 'To write the LDAP settings, give -LdapUrl, -BindDn and -LdapPasswordFile (or -PromptLdapPassword) together.'
    }
    $lines = @(
        '# Written by Start-RosterAgent.ps1; the ROSTER_LDAP_* environment variables override these.',
        '[ldap]',
        "url = $(ConvertTo-TomlString $LdapUrl)",
        "bind_dn = $(ConvertTo-TomlString $BindDn)",
        "password_file = $(ConvertTo-TomlString $LdapPasswordFile)"
    )
    if ($BaseDn) { $lines += "base_dn = $(ConvertTo-TomlString $BaseDn)" }
    if ($LdapCaFile) { $lines += "ca_file = $(ConvertTo-TomlString $LdapCaFile)" }
    if ($StartTls) { $lines += 'starttls = true' }
    # UTF-8 without a byte-order mark, which TOML parsers may refuse.
    [System.IO.File]::WriteAllLines($ConfigFile, [string[]]$lines, (New-Object System.Text.UTF8Encoding $false))
    Write-Host "Settings written to $ConfigFile"
}

# 2. Registration, once.
if (-not (Test-Path -LiteralPath $RegistrationFile)) {
    if (-not ($ServerUrl -and $RegistrationToken)) {
        throw "This agent is not registered yet: give -ServerUrl and -RegistrationToken."
    }
    $env:ROSTER_REGISTRATION_TOKEN = $RegistrationToken
    try {
        Invoke-Agent 'register' @('register', '--server', $ServerUrl) | Write-Host
    } finally {
        Remove-Item Env:\ROSTER_REGISTRATION_TOKEN -ErrorAction SilentlyContinue
    }
} elseif ($RegistrationToken) {
    Write-Warning "Already registered ($RegistrationFile); -RegistrationToken ignored. Run roster-agent.exe register --force to replace the registration."
}

# 3. The bind password, into the (now restricted) state folder.
if ($PromptLdapPassword) {
    $account = if ($BindDn) { $BindDn } else { 'the LDAP bind account' }
    $secure = Read-Host -AsSecureString -Prompt "Password for $account"
    $plain = [System.Net.NetworkCredential]::new('', $secure).Password
    [System.IO.File]::WriteAllText($LdapPasswordFile, $plain, (New-Object System.Text.UTF8Encoding $false))
    $plain = $null
    Write-Host "Password stored in $LdapPasswordFile"
}

# 4. The daily task: this script, with the state folder only.
if ($Install) {
    $arguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$PSCommandPath`" -StateDir `"$StateDir`" -AgentExe `"$AgentExe`""
    $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument $arguments -WorkingDirectory $StateDir
    $trigger = New-ScheduledTaskTrigger -Daily -At $At
    $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
    $settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -ExecutionTimeLimit (New-TimeSpan -Hours 2) -MultipleInstances IgnoreNew
    Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Principal $principal -Settings $settings `
        -Description 'Pushes an Active Directory snapshot to Roster (roster-agent push).' -Force | Out-Null
    Write-Host "Scheduled Task '$TaskName' runs daily at $At as SYSTEM."
}

# 5. Push.
if (-not $NoPush) {
    $report = Invoke-Agent 'push' @('push')
    Write-Output $report
}

# Keep a month of logs.
Get-ChildItem -LiteralPath $LogDir -File -ErrorAction SilentlyContinue |
    Where-Object { $_.LastWriteTime -lt (Get-Date).AddDays(-30) } |
    Remove-Item -ErrorAction SilentlyContinue
