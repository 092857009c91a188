//! Decoders of individual object header messages (spec §IV.A.2), one module per message.

pub mod attribute;
pub mod attribute_info;
pub mod dataspace;
pub mod external_files;
pub mod fill_value;
pub mod filter_pipeline;
pub mod group_info;
pub mod layout;
pub mod link;
pub mod link_info;
pub mod symbol_table;
