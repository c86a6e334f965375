//! Paged searches: ldap3's `EntriesOnly` + `PagedResults` adapters, plus
//! [`PageCounter`], an adapter placed after `PagedResults` in the chain so
//! it sees the end of every protocol-level search, i.e. every page.
//!
//! `PagedResults` keeps the handle's other controls (the extended-DN
//! control) and re-sends them with the paged control on every page.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::result::{LdapError, LdapResult, Result as LdapOpResult};
use ldap3::{Ldap, ResultEntry, Scope, SearchStream};

/// Counts result pages across searches; clones share the count.
#[derive(Debug, Clone, Default)]
pub struct PageCounter {
    /// Pages finished so far, shared with the `Directory` that reports it.
    pages: Arc<AtomicU64>,
}

impl PageCounter {
    pub fn pages(&self) -> u64 {
        self.pages.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl<'a, S, A> Adapter<'a, S, A> for PageCounter
where
    S: AsRef<str> + Send + Sync + 'a,
    A: AsRef<[S]> + Send + Sync + 'a,
{
    async fn start(&mut self, stream: &mut SearchStream<'a, S, A>, base: &str, scope: Scope, filter: &str, attrs: A) -> LdapOpResult<()> {
        stream.start(base, scope, filter, attrs).await
    }

    /// A `None` from the raw stream is the end of one protocol search: one
    /// page. A page that ended in an error result fails the whole search
    /// (`PagedResults` would otherwise go on if the page carried a cookie).
    async fn next(&mut self, stream: &mut SearchStream<'a, S, A>) -> LdapOpResult<Option<ResultEntry>> {
        let item = stream.next().await?;
        if item.is_none() {
            self.pages.fetch_add(1, Ordering::Relaxed);
            if let Some(result) = stream.res.as_ref().filter(|r| r.rc != 0) {
                return Err(LdapError::LdapResult { result: result.clone() });
            }
        }
        Ok(item)
    }

    async fn finish(&mut self, stream: &mut SearchStream<'a, S, A>) -> LdapResult {
        stream.finish().await
    }
}

/// One paged subtree search, ready to iterate.
pub type PagedStream = SearchStream<'static, String, Vec<String>>;

/// What to search for.
#[derive(Debug, Clone)]
pub struct Query<'q> {
    /// Subtree root.
    pub base: &'q str,
    /// Which objects (users, groups, OUs).
    pub filter: &'q str,
    /// Attributes to return (`1.1` for none).
    pub attrs: &'q [&'q str],
    /// Controls sent with every page besides the paged-results one (e.g.
    /// extended DN).
    pub controls: Vec<RawControl>,
}

/// Starts a paged subtree search.
pub async fn paged_search(
    ldap: &Ldap,
    counter: &PageCounter,
    page_size: u32,
    timeout: Duration,
    query: Query<'_>,
) -> Result<PagedStream, LdapError> {
    let mut ldap = ldap.clone();
    let page_size = i32::try_from(page_size).unwrap_or(i32::MAX);
    let adapters: Vec<Box<dyn Adapter<'static, String, Vec<String>>>> =
        vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(page_size)), Box::new(counter.clone())];
    ldap.with_timeout(timeout);
    if !query.controls.is_empty() {
        ldap.with_controls(query.controls);
    }
    let attrs: Vec<String> = query.attrs.iter().map(|a| (*a).to_owned()).collect();
    ldap.streaming_search_with(adapters, query.base, Scope::Subtree, query.filter, attrs).await
}
