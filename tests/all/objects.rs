//! Objects: `put`/`get`, zero-copy bytes, reference counting observed through
//! `stats()`, and the object store's memory cap.

use bytes::Bytes;
use rustyray::{RayError, Result};
use serde::{Deserialize, Serialize};

use crate::common::{self, SHORT, eventually, within};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i64,
    y: i64,
}

#[tokio::test]
async fn put_then_get_round_trips() -> Result<()> {
    let runtime = common::runtime().await;
    let point = runtime.put(&Point { x: 3, y: -4 })?;
    let text = runtime.put(&"hello, objects".to_string())?;
    let list = runtime.put(&vec![1u64, u64::MAX, 0])?;
    assert!(point.is_ready());
    assert_eq!(point.get().await?, Point { x: 3, y: -4 });
    // Again, and through the runtime: a get does not consume the object.
    assert_eq!(runtime.get(&point).await?, Point { x: 3, y: -4 });
    assert_eq!(text.get().await?, "hello, objects");
    assert_eq!(
        list.try_get().expect("a put is ready")?,
        vec![1, u64::MAX, 0]
    );
    assert_ne!(point.id(), text.id());

    // A put object is a task argument like any other.
    let sum = runtime
        .task("add_points")
        .arg_ref(&point)
        .arg_ref(&point)
        .submit_now::<Point>(&runtime)?;
    assert_eq!(
        within(SHORT, "add_points", sum.get()).await?,
        Point { x: 6, y: -8 }
    );
    Ok(())
}

#[tokio::test]
async fn a_value_of_another_type_does_not_decode() -> Result<()> {
    let runtime = common::runtime().await;
    let text = runtime.put(&"not a number".to_string())?;
    match text.clone().cast::<u64>().get().await {
        Err(RayError::BadArguments { function, message }) => {
            assert_eq!(function, "get");
            assert!(message.contains("u64"), "{message}");
        }
        other => panic!("expected a decode failure, got {other:?}"),
    }
    // The object itself is intact.
    assert_eq!(text.get().await?, "not a number");
    Ok(())
}

#[tokio::test]
async fn put_bytes_is_zero_copy_and_reads_as_a_vec() -> Result<()> {
    let runtime = common::runtime().await;
    let data = Bytes::from(
        (0..100_000u32)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<u8>>(),
    );
    let object = runtime.put_bytes(data.clone())?;
    let back = object.get_bytes().await?;
    assert_eq!(back.as_ptr(), data.as_ptr(), "the same buffer, not a copy");
    assert_eq!(back.len(), data.len());
    let again = object.clone().get_bytes().await?;
    assert_eq!(again.as_ptr(), data.as_ptr());

    // To the host and to guests it is a Vec<u8>.
    assert_eq!(object.get().await?, data.to_vec());
    let len = runtime
        .task("len")
        .arg_ref(&object)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(within(SHORT, "len", len.get()).await?, 100_000);
    let echoed = runtime
        .task("echo")
        .arg_ref(&object)
        .submit_now::<Vec<u8>>(&runtime)?;
    assert_eq!(within(SHORT, "echo", echoed.get()).await?, data.to_vec());
    Ok(())
}

#[tokio::test]
async fn dropping_the_last_handle_frees_a_put() -> Result<()> {
    let runtime = common::runtime().await;
    let start = runtime.stats().objects;
    assert_eq!(start.live_objects, 0);
    assert_eq!(start.used_bytes, 0);
    assert_eq!(start.freed_objects, 0);

    let object = runtime.put_bytes(Bytes::from(vec![1u8; 1000]))?;
    let stats = runtime.stats().objects;
    assert_eq!(stats.live_objects, 1);
    assert_eq!(stats.used_bytes, 1000);

    let clone = object.clone();
    drop(object);
    let stats = runtime.stats().objects;
    assert_eq!(stats.live_objects, 1, "a clone still holds it");
    assert_eq!(stats.used_bytes, 1000);
    assert_eq!(stats.freed_objects, 0);

    drop(clone);
    let stats = runtime.stats().objects;
    assert_eq!(stats.live_objects, 0);
    assert_eq!(stats.used_bytes, 0);
    assert_eq!(stats.freed_objects, 1);
    Ok(())
}

#[tokio::test]
async fn task_results_and_arguments_are_freed_after_use() -> Result<()> {
    let runtime = common::runtime().await;
    let result = runtime
        .task("kilobyte")
        .arg(3u8)
        .submit_now::<Vec<u8>>(&runtime)?;
    assert_eq!(within(SHORT, "kilobyte", result.get()).await?.len(), 1024);
    let stats = runtime.stats().objects;
    assert_eq!(stats.live_objects, 1);
    assert!(stats.used_bytes >= 1024, "{stats:?}");
    drop(result);
    assert!(
        eventually(SHORT, || {
            let s = runtime.stats().objects;
            s.live_objects == 0 && s.used_bytes == 0 && s.freed_objects == 1
        })
        .await,
        "the result is freed: {:?}",
        runtime.stats()
    );

    // An argument object lives while a task needs it, even with no handle left.
    let argument = runtime.put_bytes(Bytes::from(vec![5u8; 2000]))?;
    let len = runtime
        .task("len")
        .arg_ref(&argument)
        .submit_now::<u64>(&runtime)?;
    drop(argument);
    assert_eq!(within(SHORT, "len", len.get()).await?, 2000);
    drop(len);
    assert!(
        eventually(SHORT, || {
            let s = runtime.stats().objects;
            s.live_objects == 0 && s.used_bytes == 0 && s.freed_objects == 3
        })
        .await,
        "the argument and the result are freed: {:?}",
        runtime.stats()
    );
    Ok(())
}

#[tokio::test]
async fn objects_a_guest_puts_and_drops_are_freed() -> Result<()> {
    let runtime = common::runtime().await;
    let data = vec![9u8; 500];
    let result = runtime
        .task("put_and_get")
        .arg(&data)
        .submit_now::<Vec<u8>>(&runtime)?;
    assert_eq!(within(SHORT, "put_and_get", result.get()).await?, data);
    drop(result);
    // Two objects existed: the one the guest put (and dropped), and the result.
    assert!(
        eventually(SHORT, || {
            let s = runtime.stats().objects;
            s.live_objects == 0 && s.used_bytes == 0 && s.freed_objects == 2
        })
        .await,
        "both objects are freed: {:?}",
        runtime.stats()
    );

    // Many times over: nothing accumulates.
    let results = (0..20)
        .map(|_| {
            runtime
                .task("put_and_get")
                .arg(&data)
                .submit_now::<Vec<u8>>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    for r in &results {
        assert_eq!(within(SHORT, "put_and_get", r.get()).await?, data);
    }
    drop(results);
    assert!(
        eventually(SHORT, || {
            let s = runtime.stats().objects;
            s.live_objects == 0 && s.used_bytes == 0 && s.freed_objects == 42
        })
        .await,
        "all objects are freed: {:?}",
        runtime.stats()
    );
    Ok(())
}

#[tokio::test]
async fn the_store_cap_refuses_puts_and_results_and_the_runtime_goes_on() -> Result<()> {
    // A kilobyte result (1,024 bytes plus its length) does not fit; small values do.
    let capacity = 1000;
    let runtime = common::runtime_with(common::builder().object_store_capacity(capacity)).await;
    let small = runtime.put(&42u32)?;
    let small_size = runtime.stats().objects.used_bytes;
    assert!(small_size > 0 && small_size < 10, "{small_size}");

    match runtime.put_bytes(Bytes::from(vec![0u8; 2000])) {
        Err(RayError::ObjectStoreFull {
            requested,
            used,
            capacity: cap,
        }) => {
            assert_eq!(requested, 2000);
            assert_eq!(used, small_size);
            assert_eq!(cap, capacity);
        }
        other => panic!("expected ObjectStoreFull, got {other:?}"),
    }
    match runtime.put(&vec![0u8; 2000]) {
        Err(RayError::ObjectStoreFull { requested, .. }) => {
            assert_eq!(requested, 2000, "a byte buffer is stored raw, unframed")
        }
        other => panic!("expected ObjectStoreFull, got {other:?}"),
    }

    let too_big = runtime
        .task("kilobyte")
        .arg(1u8)
        .submit_now::<Vec<u8>>(&runtime)?;
    match within(SHORT, "kilobyte", too_big.get()).await {
        Err(RayError::ObjectStoreFull {
            requested,
            capacity: cap,
            ..
        }) => {
            assert_eq!(requested, 1024, "a raw kilobyte");
            assert_eq!(cap, capacity);
        }
        other => panic!("expected ObjectStoreFull, got {other:?}"),
    }

    // The runtime goes on: small results, small puts, and space freed is reusable.
    common::assert_adds(&runtime, 1, 2).await?;
    assert_eq!(small.get().await?, 42);
    let half = runtime.put_bytes(Bytes::from(vec![1u8; 600]))?;
    assert!(matches!(
        runtime.put_bytes(Bytes::from(vec![2u8; 600])),
        Err(RayError::ObjectStoreFull { .. })
    ));
    drop(half);
    let other_half = runtime.put_bytes(Bytes::from(vec![3u8; 600]))?;
    assert_eq!(other_half.get_bytes().await?.len(), 600);
    assert!(runtime.stats().objects.used_bytes <= capacity);
    Ok(())
}

// --- the tagged encoding, reference parameters, objects at size (issues 11 and 13) ---

use rustyray::codec::{Encoding, Value};

#[tokio::test]
async fn byte_strings_travel_raw_and_other_values_as_msgpack() -> Result<()> {
    let runtime = common::runtime().await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();
    let object = runtime.put(&bytes)?;
    let stored = object.get_value().await?;
    assert_eq!(
        stored.encoding,
        Encoding::Raw,
        "a Vec<u8> is stored as it is"
    );
    assert_eq!(stored.data.len(), bytes.len(), "no framing");
    assert_eq!(object.get().await?, bytes);

    // Into a guest and back: the guest's Vec<u8> result travels raw too.
    let echoed = runtime
        .task("echo")
        .arg_ref(&object)
        .submit_now::<Vec<u8>>(&runtime)?;
    let value = within(SHORT, "echo", echoed.get_value()).await?;
    assert_eq!(value.encoding, Encoding::Raw);
    assert_eq!(&value.data[..], &bytes[..]);
    // A guest's own `put` of bytes, read back with `get`.
    let round = runtime
        .task("put_and_get")
        .arg(b"\x00\x01\xffraw".to_vec())
        .submit_now::<Vec<u8>>(&runtime)?;
    let value = within(SHORT, "put_and_get", round.get_value()).await?;
    assert_eq!(value, Value::raw(&b"\x00\x01\xffraw"[..]));

    // A struct is MessagePack with its field names: any language (and JSON) reads it.
    let point = runtime.put(&Point { x: 3, y: -4 })?;
    let value = point.get_value().await?;
    assert_eq!(value.encoding, Encoding::Msgpack);
    assert_eq!(
        rustyray::codec::to_json(&value)?,
        serde_json::json!({"x": 3, "y": -4})
    );
    Ok(())
}

#[tokio::test]
async fn an_object_ref_parameter_receives_the_reference() -> Result<()> {
    let runtime = common::runtime().await;
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 256) as u8).collect();
    let object = runtime.put_bytes(Bytes::from(data.clone()))?;

    let info = runtime
        .task("object_info")
        .arg_object(&object)
        .submit_now::<(u64, bool)>(&runtime)?;
    assert_eq!(
        within(SHORT, "object_info", info.get()).await?,
        (1000, true)
    );

    // A read is cut at the object's end.
    let tail = runtime
        .task("read_range")
        .arg_object(&object)
        .arg(990u64)
        .arg(100u64)
        .submit_now::<Vec<u8>>(&runtime)?;
    assert_eq!(within(SHORT, "read_range", tail.get()).await?, &data[990..]);

    // `bytes()` (one copy) and `get()` agree for raw bytes.
    let same = runtime
        .task("bytes_and_get")
        .arg_object(&object)
        .submit_now::<bool>(&runtime)?;
    assert!(within(SHORT, "bytes_and_get", same.get()).await?);

    // A MessagePack object is not raw; its size is its encoding's.
    let text = runtime.put(&"twelve chars".to_string())?;
    let info = runtime
        .task("object_info")
        .arg_object(&text)
        .submit_now::<(u64, bool)>(&runtime)?;
    assert_eq!(within(SHORT, "object_info", info.get()).await?, (13, false));

    // A value given for a reference parameter is stored for it.
    let info = runtime
        .task("object_info")
        .arg(vec![1u8, 2, 3])
        .submit_now::<(u64, bool)>(&runtime)?;
    assert_eq!(within(SHORT, "object_info", info.get()).await?, (3, true));
    Ok(())
}

#[tokio::test]
async fn twenty_five_tasks_each_read_two_mib_of_a_fifty_mib_object() -> Result<()> {
    const CHUNK: usize = 2 << 20;
    let runtime = common::runtime().await;
    let data: Vec<u8> = (0..50usize << 20).map(|i| (i % 251) as u8).collect();
    let object = runtime.put(&data)?;
    let sums = (0..25)
        .map(|i| {
            runtime
                .task("sum_range")
                .arg_object(&object)
                .arg((i * CHUNK) as u64)
                .arg(CHUNK as u64)
                .submit_now::<u64>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    for (i, sum) in sums.iter().enumerate() {
        let expected: u64 = data[i * CHUNK..(i + 1) * CHUNK]
            .iter()
            .map(|&b| u64::from(b))
            .sum();
        assert_eq!(within(SHORT, "sum_range", sum.get()).await?, expected);
    }
    // The object is held once; the tasks' results are a few bytes each.
    let used = runtime.stats().objects.used_bytes;
    assert!(used < (50 << 20) + 4096, "{used}");
    Ok(())
}

#[tokio::test]
async fn objects_over_a_hundred_mib_cross_the_boundary_with_memory_512() -> Result<()> {
    let runtime =
        common::runtime_with(common::builder().memory_limit(512 << 20).max_instances(16)).await;
    // A guest `put` of 150 MiB: over the old 64 MiB result cap and over wasmtime's
    // default 128 MiB of hostcall data.
    let put = runtime
        .task("put_large")
        .arg(150u32)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(
        within(common::LONG, "put_large", put.get()).await?,
        150 << 20
    );

    // 120 MiB into a guest and back out as its result.
    let object = runtime.put_bytes(Bytes::from(vec![9u8; 120 << 20]))?;
    let echoed = runtime
        .task("echo")
        .arg_ref(&object)
        .submit_now::<Vec<u8>>(&runtime)?;
    let value = within(common::LONG, "echo", echoed.get_value()).await?;
    assert_eq!(value.encoding, Encoding::Raw);
    assert_eq!(value.data.len(), 120 << 20);
    assert!(value.data.iter().all(|&b| b == 9));
    Ok(())
}
