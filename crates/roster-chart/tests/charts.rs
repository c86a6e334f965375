//! The three charts over tables of plain data: every output is well-formed
//! XML (a tiny checker below, no XML crate), accessible, bounded, escaped,
//! free of NaN and infinity, and says the gist in its `<desc>`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use roster_chart::{
    AccessChange, AccessChangesChart, AgentHeartbeats, HeartbeatChart, MAX_AGENT_ROWS, Session, SessionsChart, Tick, access_changes_chart,
    heartbeat_chart, sessions_chart, utc_minute,
};

// ---- A tiny XML checker ------------------------------------------------

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// This element and all below it, depth first.
    fn walk<'a>(&'a self, out: &mut Vec<&'a Element>) {
        out.push(self);
        for child in &self.children {
            if let Node::Element(e) = child {
                e.walk(out);
            }
        }
    }

    /// The text directly inside, unescaped.
    fn text(&self) -> String {
        self.children.iter().filter_map(|c| if let Node::Text(t) = c { Some(t.as_str()) } else { None }).collect()
    }
}

struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    fn eat(&mut self, prefix: &str) -> bool {
        let found = self.rest.starts_with(prefix);
        if found {
            self.rest = &self.rest[prefix.len()..];
        }
        found
    }

    fn name(&mut self) -> String {
        let end = self.rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ':')).unwrap_or(self.rest.len());
        assert!(end > 0, "expected a name at {:?}", &self.rest[..self.rest.len().min(40)]);
        let name = self.rest[..end].to_owned();
        self.rest = &self.rest[end..];
        name
    }

    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\n', '\t', '\r']);
    }

    fn element(&mut self) -> Element {
        assert!(self.eat("<"), "expected `<` at {:?}", &self.rest[..self.rest.len().min(40)]);
        let name = self.name();
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            let spaced = self.rest.starts_with([' ', '\n', '\t', '\r']);
            self.skip_space();
            if self.eat("/>") {
                return Element { name, attrs, children: Vec::new() };
            }
            if self.eat(">") {
                break;
            }
            assert!(spaced, "attributes of <{name}> must be separated by space");
            let attr = self.name();
            assert!(self.eat("=\""), "attribute {attr} of <{name}> is not `=\"…\"`");
            let end = self.rest.find('"').unwrap_or_else(|| panic!("unterminated attribute {attr}"));
            let value = unescape(&self.rest[..end]);
            self.rest = &self.rest[end + 1..];
            assert!(!attrs.iter().any(|(n, _)| *n == attr), "duplicate attribute {attr} on <{name}>");
            attrs.push((attr, value));
        }
        let mut children = Vec::new();
        loop {
            if self.eat("</") {
                let close = self.name();
                assert_eq!(close, name, "</{close}> closes <{name}>");
                assert!(self.eat(">"), "bad closing tag </{close}");
                return Element { name, attrs, children };
            }
            if self.rest.starts_with('<') {
                children.push(Node::Element(self.element()));
            } else {
                let end = self.rest.find('<').unwrap_or_else(|| panic!("<{name}> is never closed"));
                children.push(Node::Text(unescape(&self.rest[..end])));
                self.rest = &self.rest[end..];
            }
        }
    }
}

/// Text or an attribute value with its entities replaced; panics on a raw
/// `<` or `>`, or an `&` that does not start a known entity.
fn unescape(raw: &str) -> String {
    assert!(!raw.contains(['<', '>']), "raw `<` or `>` in {raw:?}");
    let mut out = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').unwrap_or_else(|| panic!("unterminated entity in {raw:?}")) + at;
        out.push(match &rest[at + 1..end] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            n if n.starts_with('#') => n[1..].parse::<u32>().ok().and_then(char::from_u32).unwrap_or_else(|| panic!("bad entity {n}")),
            n => panic!("unknown entity &{n};"),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn parse(svg: &str) -> Element {
    let mut parser = Parser { rest: svg };
    let root = parser.element();
    assert!(parser.rest.is_empty(), "text after the root: {:?}", &parser.rest[..parser.rest.len().min(40)]);
    root
}

// ---- What every chart keeps to -----------------------------------------

fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let c = u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    assert!(hex.len() == 7 && hex.starts_with('#'), "colour {hex}");
    0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
}

fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Grid lines and empty cells: decorative backgrounds, not meaning by themselves.
const DECORATIVE: [&str; 2] = ["#e3e3e3", "#d0d0d0"];

/// Parses `svg` and checks what every chart promises; returns the root.
fn check(svg: &str, id: &str) -> Element {
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "NaN or inf in {svg}");
    assert!(svg.starts_with("<svg "), "no prolog, the element first");
    let root = parse(svg);
    assert_eq!(root.name, "svg");
    assert_eq!(root.attr("width"), Some("100%"));
    assert_eq!(root.attr("height"), None);
    assert_eq!(root.attr("role"), Some("img"));
    assert!(root.attr("preserveAspectRatio").is_some());
    let view: Vec<f64> = root.attr("viewBox").unwrap().split(' ').map(|v| v.parse().unwrap()).collect();
    assert_eq!(view[..3], [0.0, 0.0, 640.0]);
    let height = view[3];
    assert!((60.0..2000.0).contains(&height), "height {height}");
    assert_eq!(root.attr("aria-labelledby"), Some(format!("{id}-title {id}-desc").as_str()));
    let (title, desc) = match &root.children[..] {
        [Node::Element(t), Node::Element(d), ..] => (t, d),
        other => panic!("title and desc first, got {other:?}"),
    };
    assert_eq!((title.name.as_str(), title.attr("id")), ("title", Some(format!("{id}-title").as_str())));
    assert_eq!((desc.name.as_str(), desc.attr("id")), ("desc", Some(format!("{id}-desc").as_str())));
    assert!(!title.text().trim().is_empty() && !desc.text().trim().is_empty());

    let mut all = Vec::new();
    root.walk(&mut all);
    let mut ids = HashSet::new();
    for e in &all {
        assert!(!["script", "style", "foreignObject", "image", "a"].contains(&e.name.as_str()), "<{}>", e.name);
        for (name, value) in &e.attrs {
            assert!(name != "style" && !name.starts_with("on") && name != "href", "attribute {name} on <{}>", e.name);
            if name == "id" {
                assert!(ids.insert(value.clone()), "duplicate id {value}");
            }
            if ["x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height"].contains(&name.as_str()) && e.name != "svg" {
                let v: f64 = value.parse().unwrap_or_else(|_| panic!("{name}={value:?} on <{}>", e.name));
                let limit = if name.starts_with('y') || name == "height" || name == "cy" { height } else { 640.0 };
                assert!(v.is_finite() && (0.0..=limit + 0.5).contains(&v), "{name}={v} outside the viewBox on <{}>", e.name);
            }
            if name == "font-size" {
                assert!(value.parse::<f64>().unwrap() >= 18.0, "font-size {value}: ~11 px at 390 px needs 18 units of 640");
            }
            if (name == "fill" || name == "stroke") && value != "none" {
                let least = if e.name == "text" { 4.5 } else { 3.0 };
                let ok = contrast(value, "#ffffff") >= least || (e.name != "text" && DECORATIVE.contains(&value.as_str()));
                assert!(ok, "{name}={value} on <{}>: {:.2}:1 on white", e.name, contrast(value, "#ffffff"));
            }
        }
        if e.name == "text" {
            // No text leaves the picture (the chart's own width estimate, 0.6 em a character).
            let w = e.text().chars().count() as f64 * 10.8;
            let x: f64 = e.attr("x").unwrap().parse().unwrap();
            let (from, to) = match e.attr("text-anchor") {
                Some("end") => (x - w, x),
                Some("middle") => (x - w / 2.0, x + w / 2.0),
                _ => (x, x + w),
            };
            assert!(from >= -1.0 && to <= 641.0, "text {:?} spans {from}..{to}", e.text());
        }
        for list in [e.attr("points"), e.attr("d")].into_iter().flatten() {
            for number in list.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).filter(|n| !n.is_empty()) {
                assert!(number.parse::<f64>().unwrap().is_finite(), "{number} in {list}");
            }
        }
    }
    root
}

/// All text of the chart, unescaped, `<title>` and `<desc>` included.
fn texts(root: &Element) -> Vec<String> {
    let mut all = Vec::new();
    root.walk(&mut all);
    all.iter().map(|e| e.text()).filter(|t| !t.is_empty()).collect()
}

fn desc(root: &Element) -> String {
    match &root.children[1] {
        Node::Element(d) => d.text(),
        Node::Text(_) => panic!("no desc"),
    }
}

// ---- Data ---------------------------------------------------------------

fn session(at_unix_ms: i64, label: &str, active_users: u64, [created, updated, deactivated, reactivated]: [u64; 4]) -> Session {
    let label = (!label.is_empty()).then(|| label.to_owned());
    Session { at_unix_ms, label, active_users, created, updated, deactivated, reactivated }
}

fn sessions(id: &str, sessions: Vec<Session>) -> String {
    sessions_chart(&SessionsChart { id_prefix: id.to_owned(), title: String::new(), sessions })
}

fn agent(name: &str, heard: impl IntoIterator<Item = bool>) -> AgentHeartbeats {
    AgentHeartbeats { name: name.to_owned(), heard: heard.into_iter().collect() }
}

fn heartbeats(buckets: usize, agents: Vec<AgentHeartbeats>, ticks: &[(usize, &str)]) -> String {
    let ticks = ticks.iter().map(|(bucket, label)| Tick { bucket: *bucket, label: (*label).to_owned() }).collect();
    heartbeat_chart(&HeartbeatChart { id_prefix: "hb".to_owned(), title: String::new(), buckets, agents, ticks })
}

fn access(name: &str, gains: u64, losses: u64) -> AccessChange {
    AccessChange { name: name.to_owned(), gains, losses }
}

fn accesses(list: Vec<AccessChange>) -> String {
    access_changes_chart(&AccessChangesChart { id_prefix: "ac".to_owned(), title: String::new(), accesses: list })
}

const XSS: &str = "<img src=x onerror=alert(1)> & \"quotes\" 'too'";

// ---- Tests ----------------------------------------------------------------

#[test]
fn sessions_edge_cases_are_well_formed_and_bounded() {
    let max = u64::MAX;
    let day = 86_400_000;
    // (case, sessions, largest output in bytes, text that must appear)
    let table: Vec<(&str, Vec<Session>, usize, &str)> = vec![
        ("empty", vec![], 1_000, "No sessions yet"),
        ("one", vec![session(0, "1 Jan", 5, [1, 2, 3, 4])], 5_000, "1 session on 1 Jan; 5 active users; 10 changes"),
        ("all zero", vec![session(0, "a", 0, [0; 4]), session(day, "b", 0, [0; 4])], 6_000, "no changes"),
        ("one flat line", (0..5).map(|i| session(i * day, "", 42, [0, 1, 0, 0])).collect(), 8_000, "active users 42 → 42"),
        ("huge counts", vec![session(0, "x", max, [max; 4]), session(1, "y", 0, [max, 0, 0, 1])], 6_000, "18,446,744,073,709,551,615"),
        ("all huge", (0..3).map(|i| session(i, "", max, [max, max, 0, 0])).collect(), 6_000, "3 sessions"),
        ("extreme times, no labels", vec![session(i64::MIN, "", 1, [1; 4]), session(i64::MAX, "", 2, [0; 4])], 6_000, "UTC"),
        ("same time", vec![session(7, "t", 1, [1; 4]), session(7, "t", 1, [1; 4])], 6_000, "2 sessions"),
        (
            "ten thousand",
            (0..10_000).map(|i| session(i * 3_600_000, "", 1000 + i as u64, [i as u64 % 7, 3, 1, 0])).collect(),
            80_000,
            "up to 84 sessions",
        ),
        ("a hundred thousand", (0..100_000).map(|i| session(i, "s", 9, [1; 4])).collect(), 80_000, "100,000 sessions"),
    ];
    for (case, list, limit, wanted) in table {
        let svg = sessions("s", list);
        assert!(svg.len() <= limit, "{case}: {} bytes", svg.len());
        let root = check(&svg, "s");
        assert!(texts(&root).iter().any(|t| t.contains(wanted)), "{case}: no {wanted:?} in {:?}", desc(&root));
    }
}

#[test]
fn sessions_say_the_gist_in_words() {
    let list =
        vec![session(3, "3 Jan", 1_260, [0, 1, 0, 0]), session(1, "1 Jan", 1_204, [3, 30, 5, 2]), session(2, "2 Jan", 1_230, [1, 2, 0, 0])];
    let root = check(&sessions("job-7", list), "job-7");
    assert_eq!(
        desc(&root),
        "3 sessions from 1 Jan to 3 Jan; active users 1,204 → 1,260; most changes 40 on 1 Jan \
         (created 3, updated 30, deactivated 5, reactivated 2)."
    );
    let shown = texts(&root);
    for legend in ["Active users", "Created", "Updated", "Deactivated", "Reactivated", "Changes per session"] {
        assert!(shown.iter().any(|t| t == legend), "legend {legend}");
    }
    assert!(shown.iter().any(|t| t.starts_with("1 Jan: 40 changes (created 3")), "bar tooltips: {shown:?}");
}

#[test]
fn heartbeat_edge_cases_are_well_formed_and_bounded() {
    let alternating = |n: usize| (0..n).map(|b| b % 2 == 0);
    let day = [(0, "14:00"), (72, "20:00"), (144, "02:00"), (216, "08:00"), (288, "14:00")];
    // (case, buckets, agents, ticks, largest output in bytes, text that must appear)
    type Case = (&'static str, usize, Vec<AgentHeartbeats>, Vec<(usize, &'static str)>, usize, &'static str);
    let table: Vec<Case> = vec![
        ("no agents", 288, vec![], day.to_vec(), 1_000, "No heartbeats in the last day"),
        ("no buckets", 0, vec![agent("a", [])], vec![], 1_000, "No heartbeats in the last day"),
        ("nobody heard", 288, vec![agent("dc1", [false; 288]), agent("dc2", [])], day.to_vec(), 5_000, "not heard"),
        ("one bucket", 1, vec![agent("dc1", [true])], vec![(0, "start"), (1, "end")], 3_000, "heard in all 1"),
        ("short and long vectors", 4, vec![agent("a", [true]), agent("b", [true; 9])], vec![], 4_000, "heard 1 of 4"),
        ("ticks past the end", 10, vec![agent("a", [true; 10])], vec![(999, "late"), (usize::MAX, "later")], 3_000, "late"),
        ("huge bucket count", usize::MAX, vec![agent("a", [true, false, true])], vec![(usize::MAX, "end")], 3_000, "heard 2 of"),
        ("crowded ticks", 288, vec![agent("a", alternating(288))], (0..=288).map(|b| (b, "00:00")).collect(), 20_000, "00:00"),
        (
            "alternating, 1000 agents",
            288,
            (0..1000).map(|i| agent(&format!("agent-{i}"), alternating(288))).collect(),
            day.to_vec(),
            120_000,
            "and 980 more agents",
        ),
        ("100,000 buckets", 100_000, vec![agent("fine", alternating(100_000))], day.to_vec(), 4_000, "heard 50,000 of 100,000"),
    ];
    for (case, buckets, agents, ticks, limit, wanted) in table {
        let svg = heartbeats(buckets, agents, &ticks);
        assert!(svg.len() <= limit, "{case}: {} bytes", svg.len());
        let root = check(&svg, "hb");
        assert!(texts(&root).iter().any(|t| t.contains(wanted)), "{case}: no {wanted:?} in {:?}", texts(&root));
    }
}

#[test]
fn heartbeats_say_the_gist_in_words() {
    let agents = vec![agent("dc1", [true; 288]), agent("dc2", (0..288).map(|b| b > 100)), agent("branch", [false; 288])];
    let root = check(&heartbeats(288, agents, &[(288, "14:00"), (0, "yesterday 14:00")]), "hb");
    assert_eq!(
        desc(&root),
        "3 agents over 288 intervals from yesterday 14:00 to 14:00: 1 heard in every interval, 1 in some, 1 never. Never heard: branch."
    );
    let many: Vec<_> = (0..(MAX_AGENT_ROWS + 7)).map(|i| agent(&format!("quiet-{i}"), [i % 2 == 0])).collect();
    let root = check(&heartbeats(1, many, &[]), "hb");
    assert_eq!(
        desc(&root),
        "27 agents over 1 interval: 14 heard in every interval, 0 in some, 13 never. \
         Never heard: quiet-1, quiet-3, quiet-5, quiet-7, quiet-9 and 8 more. The first 20 are shown."
    );
}

#[test]
fn access_edge_cases_are_well_formed_and_bounded() {
    let max = u64::MAX;
    let table: Vec<(&str, Vec<AccessChange>, usize, &str)> = vec![
        ("empty", vec![], 1_000, "No change in accesses"),
        ("all zero", vec![access("VPN", 0, 0), access("Wiki", 0, 0)], 1_000, "No change in accesses"),
        ("one gain", vec![access("VPN", 1, 0)], 3_000, "+1"),
        ("one loss", vec![access("VPN", 0, 1)], 3_000, "\u{2212}1"),
        ("huge", vec![access("a", max, max), access("b", 1, 0)], 4_000, "+1.8e19"),
        ("long name", vec![access(&"x".repeat(10_000), 3, 4)], 3_000, "…"),
        ("ten thousand", (0..10_000).map(|i| access(&format!("access {i}"), i, 1)).collect(), 20_000, "and 9,975 more"),
    ];
    for (case, list, limit, wanted) in table {
        let svg = accesses(list);
        assert!(svg.len() <= limit, "{case}: {} bytes", svg.len());
        let root = check(&svg, "ac");
        assert!(texts(&root).iter().any(|t| t.contains(wanted)), "{case}: no {wanted:?} in {:?}", texts(&root));
    }
}

#[test]
fn access_changes_say_the_gist_in_words() {
    let list = vec![access("VPN", 30, 2), access("Unchanged", 0, 0), access("Wiki", 4, 5), access("Payroll", 0, 12)];
    let root = check(&accesses(list), "ac");
    assert_eq!(desc(&root), "3 accesses change: 34 gains and 19 losses in all. Most gains: VPN (+30). Most losses: Payroll (\u{2212}12).");
    let shown = texts(&root);
    for text in ["VPN", "+30", "\u{2212}2", "Wiki", "+4", "\u{2212}5", "Payroll", "\u{2212}12"] {
        assert!(shown.iter().any(|t| t == text), "{text} in {shown:?}");
    }
    assert!(!shown.iter().any(|t| t == "Unchanged" || t == "+0"), "no row for no change");
}

#[test]
fn every_label_is_text_never_markup() {
    let svgs = [
        sessions_chart(&SessionsChart { id_prefix: "x".into(), title: XSS.into(), sessions: vec![session(0, XSS, 1, [1; 4])] }),
        heartbeat_chart(&HeartbeatChart {
            id_prefix: "x".into(),
            title: XSS.into(),
            buckets: 2,
            agents: vec![agent(XSS, [true, false])],
            ticks: vec![Tick { bucket: 1, label: XSS.into() }],
        }),
        access_changes_chart(&AccessChangesChart { id_prefix: "x".into(), title: XSS.into(), accesses: vec![access(XSS, 1, 1)] }),
    ];
    for svg in svgs {
        assert!(!svg.contains("<img") && !svg.contains("\"quotes\"") && !svg.contains("'too'"), "{svg}");
        let root = check(&svg, "x");
        let all = texts(&root);
        assert!(all.iter().filter(|t| t.contains(XSS)).count() >= 2, "title and desc keep the text: {all:?}");
        assert!(all.iter().filter(|t| t.starts_with("<img src=x")).count() >= 3, "labels show it as text: {all:?}");
    }
    // Control characters XML forbids do not reach the output.
    let svg = accesses(vec![access("bell\u{7}tab\tnul\u{0}", 1, 0)]);
    let root = check(&svg, "ac");
    assert!(texts(&root).iter().any(|t| t == "bell\u{fffd}tab nul\u{fffd}"), "{svg}");
}

#[test]
fn id_prefixes_are_sanitised() {
    let table = [
        ("sessions-job_7", "sessions-job_7"),
        ("", "chart"),
        ("\"><script>", "script"),
        ("a b/c", "abc"),
        ("7up", "c7up"),
        ("-x", "c-x"),
        ("ünï", "n"),
    ];
    for (given, id) in table {
        let svg = sessions_chart(&SessionsChart { id_prefix: given.into(), ..SessionsChart::default() });
        check(&svg, id);
    }
    let long = "a".repeat(500);
    check(&accesses_with_prefix(&long), &"a".repeat(64));
}

fn accesses_with_prefix(prefix: &str) -> String {
    access_changes_chart(&AccessChangesChart { id_prefix: prefix.into(), ..AccessChangesChart::default() })
}

#[test]
fn colours_are_distinguishable_and_text_is_readable() {
    // Heard against not heard, each loss and gain bar against the other.
    assert!(contrast("#0072B2", "#d0d0d0") >= 3.0);
    assert!(contrast("#595959", "#ffffff") >= 4.5);
    // Every colour in real charts passes `check`'s rules.
    let svg = sessions("c", (0..30).map(|i| session(i, "", 10 + i as u64, [1, 2, 3, 4])).collect());
    let root = check(&svg, "c");
    let mut all = Vec::new();
    root.walk(&mut all);
    let fills: HashSet<&str> = all.iter().filter(|e| e.name == "rect").filter_map(|e| e.attr("fill")).collect();
    assert_eq!(fills.len(), 4, "one colour a series: {fills:?}");
}

#[test]
fn utc_minutes() {
    let table = [
        (0, "1970-01-01 00:00 UTC"),
        (-1, "1969-12-31 23:59 UTC"),
        (1_700_000_000_000, "2023-11-14 22:13 UTC"),
        (951_782_400_000, "2000-02-29 00:00 UTC"),
        (1_835_481_599_999, "2028-02-29 23:59 UTC"),
        (253_402_300_799_000, "9999-12-31 23:59 UTC"),
        (i64::MAX, "292278994-08-17 07:12 UTC"),
        (i64::MIN, "-292275055-05-16 16:47 UTC"),
    ];
    for (ms, text) in table {
        assert_eq!(utc_minute(ms), text, "{ms}");
    }
}
