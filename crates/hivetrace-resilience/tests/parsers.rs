//! Text from the network never panics a parser: hints and spool files.

use std::time::{Duration, SystemTime};

use hivetrace_resilience::hint;
use proptest::prelude::*;

proptest! {
    #[test]
    fn retry_after_parsers_take_any_text(text in ".{0,64}") {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let _ = hint::parse_retry_after(&text, now);
        let _ = hint::parse_retry_after_ms(&text);
        let _ = hint::parse_grpc_status_details(&text);
    }

    #[test]
    fn delay_seconds_round_trip(secs in 0u64..10_000_000) {
        let now = SystemTime::UNIX_EPOCH;
        prop_assert_eq!(hint::parse_retry_after(&secs.to_string(), now), Some(Duration::from_secs(secs)));
    }

    #[test]
    fn retry_info_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = hint::retry_info_delay(&bytes);
    }

    #[test]
    fn a_spool_directory_of_garbage_is_survived(
        files in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..4),
    ) {
        use hivetrace_resilience::exporter::ResilientExporter;
        use opentelemetry_sdk::trace::InMemorySpanExporter;
        let dir = tempfile::tempdir().expect("tempdir");
        for (i, bytes) in files.iter().enumerate() {
            let mut content = b"HTSPOOL1".to_vec();
            content.extend_from_slice(bytes);
            std::fs::write(dir.path().join(format!("seg-{:020}.spool", i + 1)), content).expect("write");
        }
        let e = ResilientExporter::builder(InMemorySpanExporter::default())
            .spool(dir.path())
            .build()
            .expect("a spool of garbage still opens");
        e.handle().replay();
        let s = e.stats();
        prop_assert_eq!(s.pending_spool_records, 0);
        prop_assert!(s.corrupt_segments + s.corrupt_records <= files.len() as u64 * 64);
    }
}
