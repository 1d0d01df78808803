//! Who portcullis is according to the checkout's settings.

/// `bot_login` from the settings in the work tree at `root`, when they name one.
pub fn bot_login_at(root: &std::path::Path) -> Option<String> {
    let mut snapshot = portcullis_core::snapshot::Snapshot::default();
    let bytes = std::fs::read(root.join(portcullis_core::model::SETTINGS_FILE)).ok()?;
    snapshot.insert_bytes(portcullis_core::model::SETTINGS_FILE, &bytes);
    portcullis_core::load::load(&snapshot).0.settings?.bot_login
}
