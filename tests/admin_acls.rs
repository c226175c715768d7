//! ACLs through the admin client, against tansu 0.6.0, which advertises
//! DescribeAcls and CreateAcls v0–3 and has no DeleteAcls.
#![cfg(feature = "testkit")]

use kafka_sync::admin::{AclBinding, AclBindingFilter, AclOperation, ResourceType};
use kafka_sync::testkit::{self, unique_name};
use kafka_sync::{Error, KafkaClient};

fn client() -> KafkaClient {
    KafkaClient::new(&testkit::shared().expect("test broker starts").bootstrap())
        .expect("client bootstraps")
}

/// tansu 0.6.0 answers CreateAcls with no result for the bindings (and keeps
/// none): the call fails as a protocol error saying so, rather than
/// reporting bindings as created.
#[test]
fn created_acls_are_answered_one_result_per_binding_or_the_answer_is_an_error() {
    let admin = client().admin();
    let topic = unique_name("acl-topic");
    let bindings = [
        AclBinding::allow(
            ResourceType::Topic,
            &topic,
            "User:alice",
            AclOperation::Read,
        ),
        AclBinding::allow(
            ResourceType::Group,
            &topic,
            "User:bob",
            AclOperation::Describe,
        ),
    ];
    match admin.create_acls(&bindings) {
        Ok(results) => {
            assert_eq!(results.len(), 2, "{results:?}");
            for result in &results {
                if let Err(e) = result {
                    // A broker that refuses must say which binding and why.
                    assert!(e.code().is_some(), "{e:?}");
                    assert!(e.to_string().contains(&topic), "{e}");
                }
            }
            let described = admin
                .describe_acls(&AclBindingFilter::resource(ResourceType::Topic, &topic))
                .unwrap();
            if results[0].is_ok() {
                assert!(described.contains(&bindings[0]), "{described:?}");
            }
        }
        Err(e) => {
            assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
            assert!(e.to_string().contains("0 results for 2 bindings"), "{e}");
        }
    }
}

#[test]
fn describing_acls_returns_only_matching_bindings() {
    let admin = client().admin();
    let topic = unique_name("acl-describe");
    let described = admin
        .describe_acls(&AclBindingFilter::resource(ResourceType::Topic, &topic))
        .expect("DescribeAcls answers");
    assert!(
        described.iter().all(|b| b.resource_name == topic),
        "{described:?}"
    );
    let all = admin.describe_acls(&AclBindingFilter::any()).unwrap();
    assert!(all.len() >= described.len());
}

#[test]
fn deleting_acls_on_a_broker_without_delete_acls_names_the_api() {
    let admin = client().admin();
    let e = admin
        .delete_acls(&[AclBindingFilter::any().principal("User:nobody")])
        .unwrap_err();
    assert!(e.to_string().contains("DeleteAcls"), "{e}");
    match e {
        Error::UnsupportedVersion { api, .. } => assert_eq!(api, "DeleteAcls"),
        e => panic!("{e:?}"),
    }
}
