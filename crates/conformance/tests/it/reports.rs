//! Snapshots of the four renderings of a report (timings zeroed), and their escaping.

use std::time::Duration;

use cfstream_conformance::{CheckResult, Outcome, Report, Validator, Violation};
use cfstream_types::Operation;

/// A report with a pass, a failure (with characters every format must escape) and a skip.
fn sample() -> Report {
    let v = Validator::new().unwrap();
    let body = br#"{"success":true,"errors":[],"messages":[],"result":{"default":{"status":"<ready> & \"done\"","percentComplete":101}}}"#;
    let violations = v.check_response(Operation::List, 200, Some("text/html; charset=utf-8"), body);
    let (schema, ct): (Vec<_>, Vec<_>) =
        violations.into_iter().partition(|v| v.check == "body_schema");
    let checks = vec![
        result("status_documented", Outcome::Pass, None, vec![]),
        result("content_type_json", Outcome::Fail, Some("1 of 3 answers broke it".into()), ct),
        result("body_schema", Outcome::Fail, Some("1 of 3 answers broke it".into()), schema),
        result(
            "download_url_range",
            Outcome::Skip,
            Some("no video given (--video): needs a video | ready".into()),
            vec![],
        ),
    ];
    let mut r =
        Report::new("http://127.0.0.1:8080/client/v4", checks, 3, Duration::from_millis(1234));
    r.zero_timings();
    r
}

fn result(
    name: &str,
    outcome: Outcome,
    reason: Option<String>,
    violations: Vec<Violation>,
) -> CheckResult {
    let description =
        cfstream_conformance::catalogue().into_iter().find(|c| c.name == name).unwrap().description;
    CheckResult::new(name, description, outcome, reason, Duration::from_millis(7), violations)
}

#[test]
fn text() {
    let r = sample();
    assert!(!r.passed());
    assert_eq!((r.counts().passed, r.counts().failed, r.counts().skipped), (1, 2, 1));
    insta::assert_snapshot!(r.render_text());
}

#[test]
fn json() {
    let r = sample();
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["passed"], false);
    insta::assert_snapshot!(r.to_json());
}

#[test]
fn junit() {
    let xml = sample().to_junit();
    // Well-formed: every special character escaped.
    let mut reader = quick_xml::Reader::from_str(&xml);
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Eof => break,
            _ => continue,
        }
    }
    assert!(xml.contains("&lt;ready&gt; &amp;"), "{xml}");
    insta::assert_snapshot!(xml);
}

#[test]
fn markdown() {
    let md = sample().to_markdown();
    assert!(md.contains("needs a video \\| ready"), "{md}");
    insta::assert_snapshot!(md);
}

#[test]
fn formats_and_report_files_parse_and_render_the_same_as_the_methods() {
    use cfstream_conformance::{ErrorKind, ReportFile, ReportFormat};
    let r = sample();
    for (name, format) in [
        ("text", ReportFormat::Text),
        ("json", ReportFormat::Json),
        ("junit", ReportFormat::Junit),
        ("xml", ReportFormat::Junit),
        ("md", ReportFormat::Markdown),
        ("markdown", ReportFormat::Markdown),
    ] {
        assert_eq!(name.parse::<ReportFormat>().unwrap(), format);
    }
    assert_eq!(r.render(ReportFormat::Text), r.render_text());
    assert_eq!(r.render(ReportFormat::Json), r.to_json());
    assert_eq!(r.render(ReportFormat::Junit), r.to_junit());
    assert_eq!(r.render(ReportFormat::Markdown), r.to_markdown());

    let f: ReportFile = "junit=out/a.xml".parse().unwrap();
    assert_eq!((f.format, f.path.to_str()), (ReportFormat::Junit, Some("out/a.xml")));
    let e = "pdf=x".parse::<ReportFile>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.to_string(), "unknown report format 'pdf' (expected text, json, junit or md)");
    let e = "junit".parse::<ReportFile>().unwrap_err();
    assert_eq!(e.to_string(), "invalid report 'junit': expected FORMAT=PATH (junit, json or md)");
    let e = "json=".parse::<ReportFile>().unwrap_err();
    assert_eq!(e.to_string(), "invalid report 'json=': the path is empty");
}

#[test]
fn values_are_cut_at_200_characters_in_every_format() {
    use cfstream_conformance::ReportFormat;
    let long = "x".repeat(5000);
    let v = Violation::new(Some(Operation::List), "body_schema", "/result", "a rule", &long);
    assert_eq!(v.value.chars().count(), 201, "200 characters and the cut mark");
    let checks = vec![result("body_schema", Outcome::Fail, None, vec![v])];
    let r = Report::new("http://127.0.0.1:1/client/v4", checks, 1, Duration::ZERO);
    for format in
        [ReportFormat::Text, ReportFormat::Json, ReportFormat::Junit, ReportFormat::Markdown]
    {
        let out = r.render(format);
        assert!(out.contains(&format!("{}…", "x".repeat(200))), "{format:?}");
        assert!(!out.contains(&"x".repeat(201)), "{format:?}");
    }
}

#[test]
fn the_rules_table_of_the_workspace_readme_names_every_check_once() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    for c in cfstream_conformance::Check::ALL {
        let row = format!("| `{}` |", c.name());
        assert_eq!(readme.matches(&row).count(), 1, "{} in the README's rules table", c.name());
    }
}
