//! API version negotiation of a [`Connection`](super::Connection): the
//! ApiVersions handshake (falling back as far as v0 when a broker rejects the
//! newest, KIP-511) and the caller's version caps applied to its answer.

use super::*;

impl Connection {
    pub(super) fn negotiate_versions(&self) -> Result<ApiVersionsResponse> {
        let request = ApiVersionsRequest {
            client_software_name: "kafka-sync".to_owned(),
            client_software_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let mut version = ApiVersionsRequest::MAX_VERSION;
        if let Some(&cap) = self
            .config
            .max_api_versions
            .get(&ApiVersionsRequest::API_KEY)
        {
            version = version.min(cap).max(ApiVersionsRequest::MIN_VERSION);
        }
        loop {
            let response = self.send_at(&request, version)?.wait()?;
            match response.error_code {
                ErrorCode::None => return Ok(response),
                ErrorCode::UnsupportedVersion if version > 0 => {
                    // The broker lists its own ApiVersions window (KIP-511);
                    // retry at its newest, or fall back to v0.
                    let next = response
                        .range(ApiVersionsRequest::API_KEY)
                        .map(|r| r.max_version.min(version - 1))
                        .unwrap_or(0);
                    debug!(
                        "{} rejected ApiVersions v{version}, retrying at v{next}",
                        self.addr()
                    );
                    version = next.max(0);
                }
                code => {
                    let error = Error::broker(
                        code,
                        None,
                        format!("ApiVersions handshake with {}", self.addr()),
                    );
                    self.shared.fail(error.clone());
                    return Err(error);
                }
            }
        }
    }
}

/// Applies `caps` (highest version per API key) to the broker's windows. An
/// API whose window starts above its cap is left out: requests of it then
/// fail with `Error::UnsupportedVersion` rather than going out at a version
/// the caller ruled out.
pub(super) fn cap_versions(
    mut versions: Vec<ApiVersionRange>,
    caps: &BTreeMap<i16, i16>,
) -> Vec<ApiVersionRange> {
    if caps.is_empty() {
        return versions;
    }
    versions.retain_mut(|range| match caps.get(&range.api_key) {
        Some(&cap) => {
            range.max_version = range.max_version.min(cap);
            range.max_version >= range.min_version
        }
        None => true,
    });
    versions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(api_key: i16, min_version: i16, max_version: i16) -> ApiVersionRange {
        ApiVersionRange {
            api_key,
            min_version,
            max_version,
        }
    }

    #[test]
    fn caps_lower_the_broker_window_and_drop_apis_they_rule_out() {
        let broker = vec![range(11, 0, 6), range(1, 4, 16), range(3, 0, 13)];
        let caps = BTreeMap::from([(11, 5), (1, 3), (99, 1)]);
        assert_eq!(
            cap_versions(broker.clone(), &caps),
            vec![range(11, 0, 5), range(3, 0, 13)]
        );
        assert_eq!(cap_versions(broker.clone(), &BTreeMap::new()), broker);
        // A cap above the broker's newest changes nothing.
        assert_eq!(
            cap_versions(vec![range(11, 0, 6)], &BTreeMap::from([(11, 9)])),
            vec![range(11, 0, 6)]
        );
    }
}
