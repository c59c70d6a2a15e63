//! The exact values of the small public contracts that other crates and users build on: names,
//! codes, file names, predicates and `Display` forms. Each assertion is here because a
//! one-line change to it passed every other test of this crate (found by cargo-mutants).

use cfstream_types::{
    Credentials, Download, DownloadStatus, DownloadType, Downloads, ErrorCode, Method, Operation,
    PercentComplete, decode,
};

#[test]
fn download_types_name_their_files() {
    let cases = [
        (DownloadType::Default, Some("default.mp4"), Some("mp4"), "default"),
        (DownloadType::Audio, Some("audio.m4a"), Some("m4a"), "audio"),
        (DownloadType::Other("hdr".into()), None, None, "hdr"),
    ];
    for (t, file, ext, shown) in cases {
        assert_eq!(t.file_name(), file, "{t:?}");
        assert_eq!(t.extension(), ext, "{t:?}");
        assert_eq!(t.to_string(), shown);
    }
    let e = DownloadType::Other("../x".into()).check_path_safe().unwrap_err();
    assert_eq!(e.value(), "../x");
    assert_eq!(
        e.to_string(),
        "invalid download type '../x': must be 1 to 32 of [a-z0-9_-] (known types: default, audio)"
    );
}

#[test]
fn statuses_say_when_polling_stops_and_print_as_sent() {
    let cases = [
        (DownloadStatus::Ready, true, "ready"),
        (DownloadStatus::Error, true, "error"),
        (DownloadStatus::InProgress, false, "inprogress"),
        (DownloadStatus::Other("queued".into()), false, "queued"),
    ];
    for (status, terminal, shown) in cases {
        assert_eq!(status.is_terminal(), terminal, "{status:?}");
        assert_eq!(status.to_string(), shown);
    }
    let e = serde_json::from_str::<DownloadStatus>("7").unwrap_err();
    assert!(e.to_string().contains("a download status string"), "{e}");
}

#[test]
fn percent_complete_prints_as_a_percentage() {
    assert_eq!(PercentComplete::new(42.5).unwrap().to_string(), "42.5%");
    assert_eq!(PercentComplete::new(100.0).unwrap().to_string(), "100%");
}

#[test]
fn readiness_and_emptiness_follow_the_downloads() {
    let body = br#"{"success":true,"errors":[],"messages":[],"result":{
        "default":{"status":"inprogress","percentComplete":10},
        "audio":{"status":"ready","percentComplete":100,"url":"https://x.example/v/downloads/audio.m4a"}}}"#;
    let downloads =
        decode::<cfstream_types::DownloadsEnvelope>(body).unwrap().into_result().unwrap();
    let default: &Download = downloads.default.as_ref().unwrap();
    assert!(!default.is_ready());
    assert!(downloads.audio.as_ref().unwrap().is_ready());
    assert!(!downloads.is_empty());

    let mut d = Downloads::default();
    assert!(d.is_empty());
    d.set(&DownloadType::Audio, downloads.audio.clone());
    assert_eq!(d.get(&DownloadType::Audio), downloads.audio.as_ref());
    assert!(!d.is_empty());
    d.set(&DownloadType::Other("hdr".into()), Some(default.clone()));
    assert_eq!(d.get(&DownloadType::Other("hdr".into())), Some(default));
    d.set(&DownloadType::Other("hdr".into()), None);
    d.set(&DownloadType::Audio, None);
    assert!(d.is_empty());
}

#[test]
fn error_codes_convert_and_print_as_numbers() {
    for (code, n) in [
        (ErrorCode::Authentication, 10000u64),
        (ErrorCode::NoRoute, 7003),
        (ErrorCode::VideoNotFound, 10404),
        (ErrorCode::Other(12345), 12345),
    ] {
        assert_eq!(u64::from(code), n);
        assert_eq!(code.to_string(), n.to_string());
        assert_eq!(ErrorCode::from(n), code);
    }
}

#[test]
fn operations_have_the_spec_ids_and_stable_names() {
    let table: Vec<_> =
        Operation::ALL.iter().map(|op| (op.operation_id(), op.name(), op.is_write())).collect();
    assert_eq!(
        table,
        [
            ("stream-m-p-4-downloads-list-downloads", "list", false),
            ("stream-m-p-4-downloads-create-downloads", "create", true),
            ("stream-m-p-4-downloads-delete-downloads", "delete", true),
            ("stream-downloads-create-type-specific-downloads", "create_type", true),
            ("stream-downloads-delete-type-specific-downloads", "delete_type", true),
        ]
    );
    assert_eq!(Operation::CreateType.to_string(), "create_type");
    let methods: Vec<_> = [Method::Get, Method::Post, Method::Delete].map(|m| m.to_string()).into();
    assert_eq!(methods, ["GET", "POST", "DELETE"]);
}

#[test]
fn credential_schemes_are_named_without_secrets() {
    assert_eq!(Credentials::token("s3cr3t").scheme(), "api token");
    assert_eq!(Credentials::key("me@example.com", "s3cr3t").scheme(), "email + global api key");
}

#[test]
fn a_failure_says_which_codes_it_carries() {
    let body = br#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"},
        {"code":7003,"message":"No route"}],"messages":[],"result":null}"#;
    let failure =
        decode::<cfstream_types::DownloadsEnvelope>(body).unwrap().into_result().unwrap_err();
    assert!(failure.has_code(ErrorCode::Authentication));
    assert!(failure.has_code(ErrorCode::NoRoute));
    assert!(!failure.has_code(ErrorCode::VideoNotFound));
}

#[test]
fn id_errors_say_which_id_and_endpoints_which_type() {
    let e = "xyz".parse::<cfstream_types::VideoId>().unwrap_err();
    assert_eq!((e.what(), e.value()), ("video id", "xyz"));
    let e = "".parse::<cfstream_types::AccountId>().unwrap_err();
    assert_eq!(e.what(), "account id");
    let account = "023e105f4ecef8ad9ca31a8372d0c353".parse().unwrap();
    let video = "ea95132c15732412d22c1476fa83f27a".parse().unwrap();
    let e = cfstream_types::Endpoint::delete_type(&account, &video, DownloadType::Audio).unwrap();
    assert_eq!(e.download_type(), Some(&DownloadType::Audio));
    assert_eq!(cfstream_types::Endpoint::list(&account, &video).download_type(), None);
}
