//! The import safeguard: whether a plan takes away so much that it must
//! wait for an admin. Like Entra's accidental-delete threshold and Okta's
//! import safeguard, with two budgets (deactivations, lost basic accesses)
//! and one rule no policy turns off: a directory with nobody in scope never
//! empties a populated job unasked.

use roster_proto::admin::{Budget, SafeguardPolicy};

use crate::plan::Plan;

/// Why a plan is held; empty when it may be applied.
pub fn judge(policy: &SafeguardPolicy, plan: &Plan) -> Vec<String> {
    let active = plan.active_before;
    let mut reasons = Vec::new();
    if plan.users_in_scope == 0 && active > 0 {
        reasons.push(format!(
            "the directory holds no user in the job's scope, where {active} users are active: an empty or unreadable directory is never applied without approval"
        ));
        return reasons;
    }
    if active < policy.min_active_users {
        return reasons;
    }
    let mut check = |what: &str, planned: u64, budget: Budget| {
        let allowed = budget.allowance(active);
        if planned > allowed {
            reasons.push(format!(
                "the plan {what} {planned} of {active} active users; the policy allows {allowed} ({} or {} %, whichever is smaller)",
                budget.count, budget.percent
            ));
        }
    };
    check("deactivates", plan.counts.deactivated, policy.max_deactivations);
    check("takes a basic access from", plan.counts.lost_basic, policy.max_lost_basic);
    reasons
}

#[cfg(test)]
mod tests {
    use roster_proto::admin::SessionCounts;

    use super::*;

    fn plan(active_before: u64, users_in_scope: u64, deactivated: u64, lost_basic: u64) -> Plan {
        Plan {
            active_before,
            users_in_scope,
            counts: SessionCounts { deactivated, lost_basic, ..SessionCounts::default() },
            ..Plan::default()
        }
    }

    /// (active before, in scope, deactivated, lost basic).
    type Case = (u64, u64, u64, u64);

    /// Each case → held?
    #[test]
    fn the_default_policy_holds_beyond_ten_percent_or_500() {
        let policy = SafeguardPolicy::default();
        let cases: &[(Case, bool)] = &[
            ((100, 100, 10, 10), false), // exactly 10 %
            ((100, 90, 11, 11), true),   // one beyond
            ((100, 100, 0, 11), true),   // lost basic alone
            ((100, 100, 11, 0), true),   // deactivations alone
            ((10_000, 10_000, 500, 500), false),
            ((10_000, 10_000, 501, 0), true), // 500 is smaller than 10 % of 10,000
            ((19, 19, 19, 19), false),        // below 20 active users
            ((20, 20, 3, 0), true),           // 10 % of 20 is 2
            ((20, 20, 2, 2), false),
            ((0, 0, 0, 0), false), // a new job
            ((5, 0, 5, 5), true),  // nobody in scope: held, whatever the size
            ((500, 0, 500, 500), true),
        ];
        for ((active, in_scope, deactivated, lost), held) in cases {
            let reasons = judge(&policy, &plan(*active, *in_scope, *deactivated, *lost));
            assert_eq!(
                !reasons.is_empty(),
                *held,
                "active {active}, in scope {in_scope}, deactivated {deactivated}, lost {lost}: {reasons:?}"
            );
        }
    }

    #[test]
    fn reasons_name_the_numbers_and_each_budget() {
        let reasons = judge(&SafeguardPolicy::default(), &plan(1000, 900, 150, 200));
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert_eq!(reasons[0], "the plan deactivates 150 of 1000 active users; the policy allows 100 (500 or 10 %, whichever is smaller)");
        assert!(reasons[1].starts_with("the plan takes a basic access from 200 of 1000"), "{reasons:?}");
        let empty = judge(&SafeguardPolicy::default(), &plan(1000, 0, 1000, 1000));
        assert_eq!(empty.len(), 1);
        assert!(empty[0].contains("no user in the job's scope"), "{empty:?}");
    }

    #[test]
    fn a_custom_policy_sets_its_own_budgets() {
        let strict = SafeguardPolicy {
            max_deactivations: Budget { count: 1, percent: 100 },
            max_lost_basic: Budget { count: 1000, percent: 50 },
            min_active_users: 0,
        };
        assert!(judge(&strict, &plan(3, 3, 1, 1)).is_empty());
        assert_eq!(judge(&strict, &plan(3, 3, 2, 1)).len(), 1);
        assert_eq!(judge(&strict, &plan(3, 3, 1, 2)).len(), 1, "50 % of 3 is 1");
        let lax = SafeguardPolicy { max_deactivations: Budget { count: u64::MAX, percent: 100 }, ..strict };
        assert!(judge(&lax, &plan(u64::MAX, 1, 1000, 1)).is_empty(), "no overflow at the extremes");
    }
}
