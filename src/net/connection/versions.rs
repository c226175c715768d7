//! API version negotiation of a [`Connection`](super::Connection): the
//! ApiVersions handshake (falling back as far as v0 when a broker rejects the
//! newest, KIP-511), the caller's version caps applied to its answer, the
//! finalized feature levels it announced (KIP-584), and sends capped below
//! the negotiated version.

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

impl Connection {
    /// The cluster-wide finalized level of feature `name` (such as
    /// `transaction.version`) as this broker announced it when the
    /// connection opened, if it announced one (ApiVersions v3+, KIP-584).
    pub fn finalized_feature(&self, name: &str) -> Option<i16> {
        self.finalized_features
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, level)| level)
    }

    /// The highest version of `R` both sides speak, but at most `cap`.
    pub fn version_at_most<R: Request>(&self, cap: i16) -> Result<i16> {
        let version = self.version_for::<R>()?;
        if cap >= version {
            return Ok(version);
        }
        let range = self.api_range(R::API_KEY);
        match range {
            Some(r) if cap >= r.min_version && cap >= R::MIN_VERSION => Ok(cap),
            _ => Err(Error::UnsupportedVersion {
                broker: self.addr().to_owned(),
                api: api_name(R::API_KEY),
                ours: format!("v{}..=v{cap}", R::MIN_VERSION),
            }),
        }
    }

    /// Sends `request` at the negotiated version capped at `cap`, without
    /// waiting (a transactions-v1 producer's Produce, EndTxn and
    /// TxnOffsetCommit stay below the versions that mean transactions v2).
    pub(crate) fn send_at_most<R: Request>(
        &self,
        request: &R,
        cap: i16,
    ) -> Result<PendingResponse<R>> {
        let version = self.version_at_most::<R>(cap)?;
        self.send_at(request, version)
    }

    /// Sends a request the broker will not answer at the negotiated version
    /// capped at `cap`.
    pub(crate) fn send_no_response_at_most<R: Request>(&self, request: &R, cap: i16) -> Result<()> {
        let version = self.version_at_most::<R>(cap)?;
        self.write_request(request, version, None).map(|_| ())
    }
}

/// The finalized feature levels of an ApiVersions answer, as (name, level);
/// none when the broker gave no valid epoch.
pub(super) fn finalized_levels(response: &ApiVersionsResponse) -> Vec<(String, i16)> {
    if response.finalized_features_epoch < 0 {
        return Vec::new();
    }
    response
        .finalized_features
        .iter()
        .map(|f| (f.name.clone(), f.max_version_level))
        .collect()
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
