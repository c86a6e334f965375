<#
.SYNOPSIS
    Installs the Roster agent on a Windows server as a service that starts at
    boot, registers it once, and starts it.

.DESCRIPTION
    The Roster agent (roster-agent.exe) reads Active Directory over LDAPS (or
    LDAP with StartTLS) and pushes signed snapshots to the Roster server over
    HTTPS. It only ever connects out. As the Windows service "RosterAgent" it
    runs "roster-agent run": it polls the server, sends heartbeats and pushes
    a snapshot whenever the server asks. A new agent's first poll brings its
    first full push and import, so no separate push is needed.

    The script takes each step only when it is needed, so running it again is
    safe; it prints what changed and what it left alone:

      1. checks the prerequisites: Windows, PowerShell 5.1 or 7+, an elevated
         session, roster-agent.exe;
      2. installs roster-agent.exe into -InstallDir (where only administrators
         can change it, since the service runs it as LocalSystem);
      3. restricts -StateDir to SYSTEM and Administrators;
      4. stores the bind password of -Credential in
         <StateDir>\ldap-password.txt, readable by SYSTEM and Administrators
         only;
      5. writes the LDAP settings to <StateDir>\roster-agent.toml (copying
         -CaFile to <StateDir>\ldap-ca.pem);
      6. registers the agent with -ServerUrl and -RegistrationToken unless
         <StateDir>\agent.json exists;
      7. runs "roster-agent check" (LDAP, server, job) and stops if it fails;
      8. installs or updates the service (automatic start after boot, restart
         on failure) and starts it, or restarts it if anything changed;
      9. prints where to watch the agent.

    Neither the registration token nor the password ever appears on a command
    line: the token reaches the agent through the ROSTER_REGISTRATION_TOKEN
    environment variable of its process only, and the password through its
    file. -WhatIf shows every change without making it; -Confirm asks before
    each one.

.PARAMETER ServerUrl
    The Roster server, e.g. https://roster.example.com. Needed to register;
    once registered, the server stored in <StateDir>\agent.json is used.

.PARAMETER RegistrationToken
    The one-time registration token an administrator created for the job
    (POST /api/v1/jobs/{job}/registration-tokens). Asked for when the agent
    is not registered yet and the parameter is not given, which keeps it out
    of the shell's history. Ignored once registered.

.PARAMETER LdapUrl
    The domain controller: ldaps://dc01.corp.example.com (preferred), or
    ldap://dc01.corp.example.com with -StartTls. Given with a bind account
    (-BindDn or -Credential), it (re)writes the LDAP settings; needed on the
    first run.

.PARAMETER BindDn
    The account the agent binds as: a DN, user@REALM or DOMAIN\user. A plain
    domain user can read users, groups and OUs. Default: the user name of
    -Credential.

.PARAMETER Credential
    The bind account and its password, e.g. (Get-Credential 'CORP\svc-roster');
    a user name alone asks for the password. The password is stored in
    <StateDir>\ldap-password.txt; given without -LdapUrl, it only replaces
    the stored password. Asked for when the settings are written and no
    password is stored yet.

.PARAMETER BaseDn
    Base of all reads, e.g. DC=corp,DC=example,DC=com. Default: the domain
    (the rootDSE's defaultNamingContext). Only with -LdapUrl.

.PARAMETER CaFile
    PEM file of the CA that issued the domain controller's certificate, when
    Windows does not trust it already. Copied to <StateDir>\ldap-ca.pem.
    Only with -LdapUrl.

.PARAMETER StartTls
    Upgrade an ldap:// connection with StartTLS. Only with -LdapUrl.

.PARAMETER StateDir
    The agent's state folder: identity, settings, password, spool, logs.
    Default: %ProgramData%\Roster\Agent (the agent's own default).

.PARAMETER AgentPath
    The roster-agent.exe to install. Default: the one next to this script,
    or, if there is none, the one installed already.

.PARAMETER InstallDir
    Where roster-agent.exe is installed and the service runs it from.
    Default: %ProgramFiles%\Roster\Agent.

.PARAMETER Uninstall
    Stop and remove the service and the installed roster-agent.exe. The state
    folder (identity, settings, password) is kept; delete it to forget the
    registration, and revoke the agent in Roster.

.EXAMPLE
    .\Start-RosterAgent.ps1 -ServerUrl https://roster.example.com `
        -LdapUrl ldaps://dc01.corp.example.com -Credential 'CORP\svc-roster'

    First installation: asks for the registration token and the bind
    password, installs, registers, checks and starts the service.

.EXAMPLE
    .\Start-RosterAgent.ps1 -AgentPath .\new\roster-agent.exe -WhatIf

    Shows what an upgrade would change (the binary, a service restart)
    without changing anything; run it again without -WhatIf to upgrade.

.EXAMPLE
    .\Start-RosterAgent.ps1 -Credential 'CORP\svc-roster'

    After a password change in AD: stores the new password, checks, and
    restarts the service.

.EXAMPLE
    .\Start-RosterAgent.ps1 -Uninstall

    Removes the service and the installed binary; keeps the state folder.

.NOTES
    Service:  RosterAgent ("Roster Agent"), LocalSystem, automatic (delayed)
              start, restarted 15 s after a failure (60 s from the third
              failure in a day).
    Command:  "<InstallDir>\roster-agent.exe" run --state-dir "<StateDir>"
              --log-format json --log-file "<StateDir>\logs\roster-agent.log"
    Logs:     <StateDir>\logs\roster-agent.log (JSON lines; moved to .1 past
              16 MiB at a start); the service's starts, stops and crashes are in
              the System event log (source Service Control Manager).
    Files:    <StateDir>\roster-agent.toml, ldap-password.txt, ldap-ca.pem,
              agent.json, agent.key.
    Linux:    scripts/install-agent.sh does the same with systemd.
#>
[CmdletBinding(SupportsShouldProcess, DefaultParameterSetName = 'Install')]
param(
    [Parameter(ParameterSetName = 'Install')]
    [ValidatePattern('^https?://')]
    [string]$ServerUrl,

    [Parameter(ParameterSetName = 'Install')]
    [string]$RegistrationToken,

    [Parameter(ParameterSetName = 'Install')]
    [ValidatePattern('^ldaps?://')]
    [string]$LdapUrl,

    [Parameter(ParameterSetName = 'Install')]
    [string]$BindDn,

    [Parameter(ParameterSetName = 'Install')]
    [System.Management.Automation.PSCredential]
    [System.Management.Automation.Credential()]
    $Credential = [System.Management.Automation.PSCredential]::Empty,

    [Parameter(ParameterSetName = 'Install')]
    [string]$BaseDn,

    [Parameter(ParameterSetName = 'Install')]
    [string]$CaFile,

    [Parameter(ParameterSetName = 'Install')]
    [switch]$StartTls,

    [string]$StateDir,

    [Parameter(ParameterSetName = 'Install')]
    [string]$AgentPath,

    [string]$InstallDir,

    [Parameter(Mandatory, ParameterSetName = 'Uninstall')]
    [switch]$Uninstall
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ServiceName = 'RosterAgent'
$ServiceDisplayName = 'Roster Agent'
$ServiceDescription = 'Reads Active Directory and pushes signed snapshots to Roster when the server asks (roster-agent run).'
$SystemSid = '*S-1-5-18'
$AdministratorsSid = '*S-1-5-32-544'

# The helpers below are plain functions, not advanced ones: $PSCmdlet in them
# is this script's, so -WhatIf and -Confirm reach every ShouldProcess call.

# Stops with a clear message unless this machine and session can install.
function Assert-Prerequisites {
    if ([System.Environment]::OSVersion.Platform -ne [System.PlatformID]::Win32NT) {
        throw 'This script installs a Windows service; on Linux use scripts/install-agent.sh.'
    }
    $version = $PSVersionTable.PSVersion
    if (-not (($version.Major -eq 5 -and $version.Minor -ge 1) -or $version.Major -ge 7)) {
        throw "PowerShell 5.1 or 7+ is needed; this is PowerShell $version."
    }
    $principal = [System.Security.Principal.WindowsPrincipal][System.Security.Principal.WindowsIdentity]::GetCurrent()
    if (-not $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'Run this script in an elevated PowerShell (Run as administrator): it installs a service and writes under %ProgramFiles% and %ProgramData%.'
    }
}

# A TOML string: literal ('...') when possible, else basic with escapes.
function ConvertTo-TomlString([string]$Value) {
    if ($Value -match '\p{Cc}') { throw "A setting cannot hold control characters (line breaks, tabs): $Value" }
    if ($Value -notmatch "'") { return "'$Value'" }
    return '"' + $Value.Replace('\', '\\').Replace('"', '\"') + '"'
}

# Quotes one argument for the Windows command line (CommandLineToArgvW rules).
function ConvertTo-Argument([string]$Value) {
    if ($Value -and $Value -notmatch '[\s"]') { return $Value }
    return '"' + ($Value -replace '(\\*)"', '$1$1\"' -replace '(\\+)$', '$1$1') + '"'
}

# Runs a native tool and returns its output; throws with that output when it
# fails. (Windows PowerShell 5.1 would turn a stderr line into a terminating
# error under $ErrorActionPreference = 'Stop', hence the local 'Continue'.)
function Invoke-Native([string]$FilePath, [string[]]$Arguments) {
    $ErrorActionPreference = 'Continue'
    $output = & $FilePath @Arguments 2>&1 | ForEach-Object { "$_" }
    if ($LASTEXITCODE -ne 0) {
        throw "$FilePath $($Arguments -join ' ') failed with exit code ${LASTEXITCODE}: $(($output | Where-Object { $_ }) -join ' ')"
    }
    return $output
}

# Runs roster-agent.exe on the state folder with $Environment added to its
# own environment (nothing is set in this session's). ROSTER_* variables of
# this session are removed, so the agent sees the settings file as the
# service will. Returns the exit code, stdout and stderr (the log).
function Invoke-Agent([string[]]$Arguments, [hashtable]$Environment = @{}) {
    $info = New-Object System.Diagnostics.ProcessStartInfo
    $info.FileName = $InstalledExe
    $info.Arguments = (@('--state-dir', $StateDir) + $Arguments | ForEach-Object { ConvertTo-Argument $_ }) -join ' '
    $info.UseShellExecute = $false
    $info.CreateNoWindow = $true
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    foreach ($name in @($info.EnvironmentVariables.Keys)) {
        if ($name -like 'ROSTER_*') { $info.EnvironmentVariables.Remove($name) }
    }
    foreach ($name in $Environment.Keys) { $info.EnvironmentVariables[$name] = $Environment[$name] }
    $process = [System.Diagnostics.Process]::Start($info)
    $stdout = $process.StandardOutput.ReadToEndAsync()
    $stderr = $process.StandardError.ReadToEndAsync()
    $process.WaitForExit()
    return [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $stdout.Result.TrimEnd(); Log = $stderr.Result.TrimEnd() }
}

# Throws naming the agent command that failed, with the end of its log.
function Assert-AgentSucceeded([string]$Command, $Result, [string]$Advice) {
    if ($Result.ExitCode -eq 0) { return }
    $tail = @($Result.Log -split "`r?`n" | Select-Object -Last 10) -join [System.Environment]::NewLine
    throw "roster-agent $Command failed with exit code $($Result.ExitCode). $Advice$([System.Environment]::NewLine)$tail"
}

# Throws unless the binary the service runs is in place (under -WhatIf or a
# declined -Confirm it may not be).
function Assert-AgentInstalled {
    if (-not (Test-Path -LiteralPath $InstalledExe -PathType Leaf)) { throw "roster-agent.exe is not installed at $InstalledExe." }
}

# Gives SYSTEM and Administrators full control of $Path and nobody else any
# access (no inherited entries). A folder passes this on to what it holds.
function Protect-Path([string]$Path, [switch]$Container) {
    $inherit = if ($Container) { '(OI)(CI)' } else { '' }
    Invoke-Native 'icacls.exe' @($Path, '/inheritance:r', '/grant:r', "${SystemSid}:${inherit}F", "${AdministratorsSid}:${inherit}F", '/Q') | Out-Null
}

# Writes $Bytes to $Path in the state folder unless it holds them already,
# then restricts it to SYSTEM and Administrators. Returns whether it wrote.
# $What names the file in messages (never its content).
function Set-StateFile([string]$Path, [byte[]]$Bytes, [string]$What) {
    if ((Test-Path -LiteralPath $Path -PathType Leaf) -and
        [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($Path)) -ceq [Convert]::ToBase64String($Bytes)) {
        Write-Host "Unchanged: $What ($Path)"
        return $false
    }
    if (-not $PSCmdlet.ShouldProcess($Path, "Write $What")) { return $false }
    [System.IO.File]::WriteAllBytes($Path, $Bytes)
    Protect-Path $Path
    Write-Host "Written: $What ($Path)"
    return $true
}

# Copies the agent to $InstalledExe unless the same file is there, stopping
# the service first (a running service holds the file). Returns whether it
# copied.
function Install-AgentBinary {
    if ($AgentPath -eq $InstalledExe) { return $false }
    if ((Test-Path -LiteralPath $InstalledExe -PathType Leaf) -and
        (Get-FileHash -LiteralPath $InstalledExe).Hash -eq (Get-FileHash -LiteralPath $AgentPath).Hash) {
        Write-Host "Unchanged: roster-agent.exe ($InstalledExe)"
        return $false
    }
    if (-not $PSCmdlet.ShouldProcess($InstalledExe, "Install roster-agent.exe from $AgentPath")) { return $false }
    $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
    if ($service -and $service.Status -ne 'Stopped') {
        Stop-Service -Name $ServiceName -Confirm:$false
    }
    New-Item -ItemType Directory -Force -Path $InstallDir -Confirm:$false | Out-Null
    Copy-Item -LiteralPath $AgentPath -Destination $InstalledExe -Force -Confirm:$false
    Write-Host "Installed: $InstalledExe"
    return $true
}

# Creates the service or brings its settings up to date: automatic start
# after boot (delayed, once the network is up), restart on failure. Returns
# whether the command it runs changed (the service must then restart).
function Install-AgentService([string]$Command) {
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'"
    $changed = $false
    if (-not $service) {
        if (-not $PSCmdlet.ShouldProcess($ServiceName, "Create the service running $Command")) { return $false }
        New-Service -Name $ServiceName -BinaryPathName $Command -DisplayName $ServiceDisplayName `
            -Description $ServiceDescription -StartupType Automatic -Confirm:$false | Out-Null
        Write-Host "Created: service $ServiceName"
        $changed = $true
    } elseif ($service.PathName -ne $Command) {
        if ($PSCmdlet.ShouldProcess($ServiceName, "Change the service's command to $Command")) {
            $result = Invoke-CimMethod -InputObject $service -MethodName Change -Arguments @{ PathName = $Command }
            if ($result.ReturnValue -ne 0) {
                throw "Could not change the command of service ${ServiceName}: Win32_Service.Change returned $($result.ReturnValue)."
            }
            Write-Host "Updated: the command of service $ServiceName"
            $changed = $true
        }
    }
    if ($PSCmdlet.ShouldProcess($ServiceName, 'Set start at boot (delayed) and restart on failure')) {
        Set-Service -Name $ServiceName -DisplayName $ServiceDisplayName -Description $ServiceDescription -Confirm:$false
        Invoke-Native 'sc.exe' @('config', $ServiceName, 'start=', 'delayed-auto') | Out-Null
        # Restart 15 s after each of the first two failures of a day, then
        # every 60 s; failureflag 1 counts an exit with an error code as a
        # failure too, not only a crash.
        Invoke-Native 'sc.exe' @('failure', $ServiceName, 'reset=', '86400', 'actions=', 'restart/15000/restart/15000/restart/60000') | Out-Null
        Invoke-Native 'sc.exe' @('failureflag', $ServiceName, '1') | Out-Null
    }
    return $changed
}

# Starts the service, or restarts it when $Changed (Start-Service and
# Restart-Service wait until it runs, or fail).
function Start-AgentService([bool]$Changed) {
    $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
    if (-not $service) { return } # only under -WhatIf: it was not created
    if ($service.Status -eq 'Running' -and -not $Changed) {
        Write-Host "Unchanged: service $ServiceName is running"
        return
    }
    $action = if ($service.Status -eq 'Running') { 'Restart the service' } else { 'Start the service' }
    if (-not $PSCmdlet.ShouldProcess($ServiceName, $action)) { return }
    if ($service.Status -eq 'Running') {
        Restart-Service -Name $ServiceName -Confirm:$false
    } else {
        Start-Service -Name $ServiceName -Confirm:$false
    }
    $status = (Get-Service -Name $ServiceName).Status
    if ($status -ne 'Running') {
        throw "Service $ServiceName is $status after starting; see $LogDir and the System event log."
    }
    Write-Host "Running: service $ServiceName"
}

# Removes the daily Scheduled Task earlier versions of this script installed
# ("Roster Agent", running roster-agent push): the service replaces it, and a
# push of its own beside the service's would be refused by the state folder's
# lock every day.
function Remove-LegacyTask {
    $task = Get-ScheduledTask -TaskName $LegacyTaskName -ErrorAction SilentlyContinue
    if ($task -and $PSCmdlet.ShouldProcess($LegacyTaskName, 'Remove the Scheduled Task the service replaces')) {
        Unregister-ScheduledTask -TaskName $LegacyTaskName -Confirm:$false
        Write-Host "Removed: Scheduled Task '$LegacyTaskName' (replaced by the service $ServiceName)"
    }
}

# Removes the service and the installed binary; keeps the state folder.
function Uninstall-Agent {
    Remove-LegacyTask
    $service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
    if ($service -and $PSCmdlet.ShouldProcess($ServiceName, 'Stop and remove the service')) {
        if ($service.Status -ne 'Stopped') { Stop-Service -Name $ServiceName -Confirm:$false }
        Invoke-Native 'sc.exe' @('delete', $ServiceName) | Out-Null
        Write-Host "Removed: service $ServiceName"
    }
    if ((Test-Path -LiteralPath $InstalledExe) -and $PSCmdlet.ShouldProcess($InstalledExe, 'Remove roster-agent.exe')) {
        Remove-Item -LiteralPath $InstalledExe -Confirm:$false
        if (-not (Get-ChildItem -LiteralPath $InstallDir -Force)) { Remove-Item -LiteralPath $InstallDir -Confirm:$false }
        Write-Host "Removed: $InstalledExe"
    }
    Write-Host "Kept: $StateDir (the agent's identity, settings and password). Delete it to forget the registration, and revoke the agent in Roster (POST /api/v1/agents/{id}/revoke)."
}

# 1. Prerequisites, and every decision that needs input, before any change.
Assert-Prerequisites
if (-not $StateDir) { $StateDir = Join-Path $env:ProgramData 'Roster\Agent' }
if (-not $InstallDir) { $InstallDir = Join-Path $env:ProgramFiles 'Roster\Agent' }
$StateDir = $StateDir.TrimEnd('\')
$InstallDir = $InstallDir.TrimEnd('\')
$InstalledExe = Join-Path $InstallDir 'roster-agent.exe'
$ConfigFile = Join-Path $StateDir 'roster-agent.toml'
$PasswordFile = Join-Path $StateDir 'ldap-password.txt'
$CaCopy = Join-Path $StateDir 'ldap-ca.pem'
$RegistrationFile = Join-Path $StateDir 'agent.json'
$LogDir = Join-Path $StateDir 'logs'
$LegacyTaskName = 'Roster Agent'

if ($Uninstall) {
    Uninstall-Agent
    return
}

if (-not $AgentPath) {
    $AgentPath = Join-Path $PSScriptRoot 'roster-agent.exe'
    if (-not (Test-Path -LiteralPath $AgentPath -PathType Leaf) -and (Test-Path -LiteralPath $InstalledExe -PathType Leaf)) {
        $AgentPath = $InstalledExe
    }
}
if (-not (Test-Path -LiteralPath $AgentPath -PathType Leaf)) {
    throw "roster-agent.exe not found at $AgentPath (give -AgentPath)."
}
$AgentPath = (Resolve-Path -LiteralPath $AgentPath).ProviderPath

$hasCredential = $Credential -ne [System.Management.Automation.PSCredential]::Empty
if (-not $BindDn -and $hasCredential) { $BindDn = $Credential.UserName }
if ($LdapUrl) {
    if (-not $BindDn) { throw 'Give the bind account with -BindDn or -Credential together with -LdapUrl.' }
} elseif ($PSBoundParameters.ContainsKey('BindDn') -or $BaseDn -or $CaFile -or $StartTls) {
    throw 'The LDAP settings are written together: give -LdapUrl with -BindDn or -Credential (and -BaseDn, -CaFile, -StartTls as needed).'
} elseif (-not (Test-Path -LiteralPath $ConfigFile -PathType Leaf)) {
    throw "No LDAP settings yet ($ConfigFile): give -LdapUrl and -Credential."
}
if ($CaFile) {
    if (-not (Test-Path -LiteralPath $CaFile -PathType Leaf)) { throw "CA file not found: $CaFile" }
    $CaFile = (Resolve-Path -LiteralPath $CaFile).ProviderPath
}
if (-not $hasCredential -and -not (Test-Path -LiteralPath $PasswordFile -PathType Leaf)) {
    $prompt = @{ Message = 'The account the Roster agent binds to Active Directory as, and its password' }
    if ($BindDn) { $prompt.UserName = $BindDn }
    $Credential = Get-Credential @prompt
    if (-not $Credential) { throw 'No bind password given (-Credential).' }
    $hasCredential = $true
}

$registered = Test-Path -LiteralPath $RegistrationFile -PathType Leaf
if (-not $registered) {
    if (-not $ServerUrl) { throw 'This agent is not registered yet: give -ServerUrl (and -RegistrationToken, or type it when asked).' }
    if (-not $RegistrationToken) {
        $secureToken = Read-Host -AsSecureString -Prompt "Registration token for $ServerUrl"
        $RegistrationToken = [System.Net.NetworkCredential]::new('', $secureToken).Password
        if (-not $RegistrationToken) { throw 'No registration token given.' }
    }
} elseif ($RegistrationToken) {
    Write-Warning "Already registered ($RegistrationFile): -RegistrationToken ignored. To register anew, run: roster-agent.exe register --force"
}

# 2. The binary.
$changed = Install-AgentBinary

# 3. The state folder, private to SYSTEM and Administrators (the agent
#    restricts it the same way when it registers).
if (-not (Test-Path -LiteralPath $StateDir -PathType Container)) {
    if ($PSCmdlet.ShouldProcess($StateDir, 'Create the state folder (SYSTEM and Administrators only)')) {
        New-Item -ItemType Directory -Force -Path $StateDir -Confirm:$false | Out-Null
        Protect-Path $StateDir -Container
    }
} elseif (-not (Get-Acl -LiteralPath $StateDir).AreAccessRulesProtected) {
    if ($PSCmdlet.ShouldProcess($StateDir, 'Restrict the state folder to SYSTEM and Administrators')) {
        Protect-Path $StateDir -Container
    }
}

# 4-5. The password, the CA and the settings. UTF-8 without a byte-order mark:
#      the agent reads the password file's bytes as they are (less one
#      trailing newline), and TOML wants no BOM.
$utf8 = New-Object System.Text.UTF8Encoding $false
if ($hasCredential) {
    $password = $Credential.GetNetworkCredential().Password
    if (-not $password) { throw 'The bind password is empty.' }
    $changed = (Set-StateFile $PasswordFile ($utf8.GetBytes($password)) 'LDAP bind password') -or $changed
    $password = $null
}
if ($LdapUrl) {
    if ($CaFile) {
        $changed = (Set-StateFile $CaCopy ([System.IO.File]::ReadAllBytes($CaFile)) 'LDAP CA certificate') -or $changed
    }
    $lines = @(
        '# Written by Start-RosterAgent.ps1; ROSTER_LDAP_* environment variables override these.',
        '# Relative paths are relative to this file.',
        '[ldap]',
        "url = $(ConvertTo-TomlString $LdapUrl)",
        "bind_dn = $(ConvertTo-TomlString $BindDn)",
        "password_file = 'ldap-password.txt'"
    )
    if ($BaseDn) { $lines += "base_dn = $(ConvertTo-TomlString $BaseDn)" }
    if ($CaFile) { $lines += "ca_file = 'ldap-ca.pem'" }
    if ($StartTls) { $lines += 'starttls = true' }
    $text = ($lines -join "`r`n") + "`r`n"
    $changed = (Set-StateFile $ConfigFile ($utf8.GetBytes($text)) 'LDAP settings') -or $changed
}

# 6-7. Registration, once, and the preflight, with the installed binary (what
#      the service runs).
if (-not $registered -and $PSCmdlet.ShouldProcess($ServerUrl, 'Register this agent (roster-agent register)')) {
    Assert-AgentInstalled
    $result = Invoke-Agent @('register', '--server', $ServerUrl) @{ ROSTER_REGISTRATION_TOKEN = $RegistrationToken }
    Assert-AgentSucceeded 'register' $result 'The token is used once and expires: ask for a new one if it was used or is old.'
    Write-Host $result.Output
    $changed = $true
}
$RegistrationToken = $null
if ($PSCmdlet.ShouldProcess($StateDir, 'Check LDAP, the server and the job (roster-agent check)')) {
    Assert-AgentInstalled
    $result = Invoke-Agent @('check')
    Write-Host $result.Output
    Assert-AgentSucceeded 'check' $result 'The service was not (re)started: fix what the last line names and run this script again.'
}

# 8. The service (and not the daily task of earlier versions).
Remove-LegacyTask
$LogFile = Join-Path $LogDir 'roster-agent.log'
$command = '"{0}" run --state-dir {1} --log-format json --log-file {2}' -f $InstalledExe, (ConvertTo-Argument $StateDir), (ConvertTo-Argument $LogFile)
$changed = (Install-AgentService $command) -or $changed
Start-AgentService $changed

# 9. Where to watch it.
if ($WhatIfPreference) { return }
$server = $ServerUrl
$job = '<job>'
if (Test-Path -LiteralPath $RegistrationFile) {
    $registration = Get-Content -Raw -LiteralPath $RegistrationFile | ConvertFrom-Json
    $server = $registration.server_url
    $job = $registration.job_id
}
$server = "$server".TrimEnd('/')
Write-Host @"

The Roster agent runs as the Windows service $ServiceName ("$ServiceDisplayName") and starts after every boot.
  Status:    Get-Service $ServiceName
  Logs:      $LogDir
  Service:   Get-WinEvent -FilterHashtable @{ LogName = 'System'; ProviderName = 'Service Control Manager' } -MaxEvents 50 | Where-Object Message -Match '$ServiceDisplayName'
  Sessions:  $server/api/v1/jobs/$job/sessions (admin token); the first import follows the service's first poll.
  Health:    $server/api/v1/agents
"@
