//! The configurable limits of API.md, with its defaults.

/// Every size and count limit the server enforces. One struct, one place for the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub username_min: usize,
    pub username_max: usize,
    pub password_min_bytes: usize,
    pub password_max_bytes: usize,
    pub display_name_max: usize,
    /// In Unicode scalar values.
    pub message_text_max: usize,
    pub group_name_max: usize,
    pub group_members_max: usize,
    pub client_id_max: usize,
    pub device_name_max: usize,
    pub upload_max_bytes: usize,
    pub json_body_max_bytes: usize,
    pub page_limit_max: u32,
    pub page_limit_default: u32,
    /// Distinct emoji one message can carry.
    pub reactions_per_message_max: usize,
    /// A search query, in Unicode scalar values.
    pub search_query_max: usize,
    /// Words in one search query.
    pub search_terms_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            username_min: 3,
            username_max: 32,
            password_min_bytes: 8,
            password_max_bytes: 1024,
            display_name_max: 64,
            message_text_max: 16_384,
            group_name_max: 128,
            group_members_max: 1024,
            client_id_max: 64,
            device_name_max: 128,
            upload_max_bytes: 25 * 1024 * 1024,
            json_body_max_bytes: 1024 * 1024,
            page_limit_max: 200,
            page_limit_default: 50,
            reactions_per_message_max: 20,
            search_query_max: 256,
            search_terms_max: 16,
        }
    }
}
