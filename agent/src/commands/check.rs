//! `roster-agent check`: the preflight. Walks every stage a push needs
//! (settings, LDAP connect and bind, rootDSE and watermark, server and
//! job, scope) and prints what it found line by line, so the first failing
//! stage is the last thing on the screen; ends with whether the next push
//! would be full or a delta, and why.

use std::io::Write;

use roster_proto::scope::JobScope;

use super::Context;
use crate::error::{AgentError, Stage};
use crate::ldap::{Directory, ObjectKind};
use crate::sync::plan_snapshot;

/// Runs the preflight, writing `name: value` lines to `out` as it goes.
pub async fn check(ctx: &Context, out: &mut dyn Write) -> Result<(), AgentError> {
    let mut line = |text: String| {
        // Output is best effort: a closed stdout must not hide the real result.
        let _ignored = writeln!(out, "{text}").and_then(|()| out.flush());
    };
    line(format!("state dir: {}", ctx.state.root().display()));
    line(format!(
        "config file: {}",
        ctx.config_file.as_ref().map_or_else(|| "(none; environment only)".to_owned(), |p| p.display().to_string())
    ));
    let settings = ctx.ldap_settings()?;
    line(format!("ldap url: {}", settings.url));
    line(format!("ldap page size: {}", settings.page_size));
    line(format!("ldap read connections: {}", settings.read_connections));

    let mut directory = Directory::connect(&settings).await?;
    line(format!("ldap connect: ok ({})", directory.transport().as_str()));
    line(format!("ldap bind: ok ({})", settings.bind_dn));
    let info = directory.directory_info(settings.base_dn.as_deref()).await?;
    line(format!("defaultNamingContext: {}", info.root.default_naming_context));
    line(format!("dnsHostName: {}", info.watermark.dns_host_name));
    line(format!("highestCommittedUSN: {}", info.watermark.usn));
    line(format!("dsServiceName: {}", info.root.ds_service_name.as_deref().unwrap_or("(not given)")));
    line(format!("invocationId: {}", info.watermark.invocation_id));
    line(format!("domain SID: {}", info.domain_sid.as_deref().unwrap_or("(not readable)")));
    line(format!("base DN: {}", info.base_dn));

    let identity = ctx.state.identity()?;
    let registration = &identity.registration;
    line(format!("agent: {} (tenant {}, job {})", registration.agent_id, registration.tenant_id, registration.job_id));
    let client = ctx.client(&identity)?;
    line(format!("server: {}", client.base_url()));
    let job = client.job().await.map_err(|e| Stage::FetchJob.err(e))?;
    line(format!("job: {} ({})", job.name, job.job_id));
    line(format!("job paths: {}", paths(&job.scope)));
    let resolved = job.scope.resolve(&info.base_dn).map_err(|e| Stage::Config.err(e))?;
    if let Some(filter) = &resolved.user_filter {
        line(format!("job user filter: {filter}"));
    }
    let users_filter = ObjectKind::users_filter(None, resolved.user_filter.as_deref(), true);
    for base in &resolved.user_bases {
        let users = directory.count_matching(ObjectKind::Users, &base.dn, &users_filter).await?;
        line(format!("users in {}: {users}", base.dn));
    }
    for base in &resolved.group_bases {
        let groups = directory.count(ObjectKind::Groups, &base.dn).await?;
        line(format!("groups in {}: {groups}", base.dn));
    }
    directory.close().await;
    line(format!("next push: {}", plan_snapshot(&job.sync, &info.watermark, None)));
    line("check: ok".to_owned());
    Ok(())
}

fn paths(scope: &JobScope) -> String {
    let groups = if scope.group_paths.is_empty() { "(whole domain)".to_owned() } else { scope.group_paths.join("; ") };
    format!("users {}; groups {groups}", scope.relative_paths.join("; "))
}
