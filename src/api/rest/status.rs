//! The one mapping from the contract's error codes to HTTP statuses.

use crate::core::error::ErrorCode;
use tide::StatusCode;

/// HTTP status for an error code, as the contract's table fixes it.
pub fn for_code(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidRequest => StatusCode::BadRequest,
        ErrorCode::Forbidden => StatusCode::Forbidden,
        ErrorCode::NotFound => StatusCode::NotFound,
        ErrorCode::Conflict => StatusCode::Conflict,
        ErrorCode::TooLarge => StatusCode::PayloadTooLarge,
        ErrorCode::Unsupported => StatusCode::NotImplemented,
        ErrorCode::RuntimeError => StatusCode::BadGateway,
        ErrorCode::RuntimeUnavailable => StatusCode::ServiceUnavailable,
        ErrorCode::StoreError | ErrorCode::Internal => StatusCode::InternalServerError,
        ErrorCode::InsufficientStorage => StatusCode::InsufficientStorage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_contract() {
        let expected = [400, 403, 404, 409, 413, 501, 502, 503, 500, 500, 507];
        for (code, want) in ErrorCode::ALL.iter().zip(expected) {
            assert_eq!(for_code(*code) as u16, want, "{code:?}");
        }
    }
}
