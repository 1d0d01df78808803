//! The ports: what the application asks of the world, declared here and implemented by the
//! edges (`portcullis-git`, `portcullis-github`) and by the in-memory test doubles.

pub mod github;
