//! Exactly-once processing: consume → transform → produce, with the input
//! offsets committed in the same transaction as the output, so each input
//! record lands in the output exactly once even if the process dies and
//! starts again (its successor's `init_transactions` aborts the open
//! transaction, and its consumer resumes at the committed offsets).
//!
//! Starts a throwaway broker (unless `KAFKA_BOOTSTRAP` names one), writes
//! some input, processes it in transactions of up to 50 records, then reads
//! the output back with a read_committed consumer.
//!
//! ```sh
//! cargo run --example exactly_once --features testkit
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_sync::testkit::{self, Broker};
use kafka_sync::{
    BalancedConsumerConfig, IsolationLevel, KafkaClient, OffsetReset, ProducerConfig, Record,
    SimpleConsumerConfig, TopicPartition, TransactionErrorKind,
};

const INPUT_RECORDS: usize = 200;

fn main() -> kafka_sync::Result<()> {
    let broker = Broker::start()?;
    let client = KafkaClient::new(&broker.bootstrap())?;
    let input = testkit::unique_name("eos-input");
    let output = testkit::unique_name("eos-output");
    client.create_topic(&input, 2, 1)?;
    client.create_topic(&output, 2, 1)?;

    // Some input, written by an ordinary producer.
    let plain = client.get_producer(ProducerConfig::default())?;
    for i in 0..INPUT_RECORDS {
        plain.send(
            &input,
            Record::new(format!("order-{i}")).key(format!("customer-{}", i % 7)),
        )?;
    }
    plain.flush(Duration::from_secs(30))?;

    // The processor: a group member reading committed input, and a
    // transactional producer. The id stays the same across restarts of
    // the same processor instance: that is what fences a zombie.
    let consumer = client.topic(&input)?.get_balanced_consumer(
        "eos-example",
        BalancedConsumerConfig::default()
            .auto_offset_reset(OffsetReset::Earliest)
            .enable_auto_commit(false) // offsets go through the transaction
            .isolation_level(IsolationLevel::ReadCommitted)
            .session_timeout(Duration::from_secs(6)),
    )?;
    let producer = client
        .get_producer(ProducerConfig::default().transactional_id("eos-example-processor-0"))?;
    producer.init_transactions(Duration::from_secs(30))?;

    let mut processed = 0;
    let mut transactions = 0;
    while processed < INPUT_RECORDS {
        let mut batch = Vec::new();
        while batch.len() < 50 {
            match consumer.consume(Duration::from_millis(500))? {
                Some(message) => batch.push(message),
                None => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        producer.begin_transaction()?;
        let mut offsets: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        for message in &batch {
            let value = String::from_utf8_lossy(message.value_bytes()).to_uppercase();
            let mut record = Record::new(value);
            if let Some(key) = message.key() {
                record = record.key(key.to_vec());
            }
            producer.send(&output, record)?;
            // The next offset to read, per partition.
            offsets.insert(
                TopicPartition::new(message.topic(), message.partition()),
                message.offset() + 1,
            );
        }
        producer.send_offsets_to_transaction(
            &offsets,
            &consumer.group_metadata(),
            Duration::from_secs(30),
        )?;
        match producer.commit_transaction(Duration::from_secs(30)) {
            Ok(()) => {
                processed += batch.len();
                transactions += 1;
            }
            Err(e) if e.transaction_kind() == Some(TransactionErrorKind::Abortable) => {
                // Neither the output nor the offsets of this batch are
                // visible; a restart reprocesses it from the committed
                // offsets.
                producer.abort_transaction(Duration::from_secs(30))?;
                eprintln!(
                    "transaction aborted ({e}); restart to reprocess from the committed offsets"
                );
                return Err(e);
            }
            Err(e) => return Err(e), // fatal (fenced) or a timeout
        }
    }
    println!("processed {processed} records in {transactions} transactions");
    consumer.close()?;

    // What a read_committed reader of the output sees.
    let reader = client.topic(&output)?.get_simple_consumer(
        SimpleConsumerConfig::default()
            .auto_offset_reset(OffsetReset::Earliest)
            .isolation_level(IsolationLevel::ReadCommitted)
            .consumer_timeout(Duration::from_secs(2)),
    )?;
    let mut read = 0;
    for message in &reader {
        let message = message?;
        if read < 3 {
            println!(
                "output partition {} offset {}: {}",
                message.partition(),
                message.offset(),
                String::from_utf8_lossy(message.value_bytes())
            );
        }
        read += 1;
    }
    println!("read {read} committed output records");
    Ok(())
}
