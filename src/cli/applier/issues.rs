//! Who portcullis is according to the checkout's settings.

/// `bot_login` from the settings in the work tree at `root`, when they name one.
pub fn bot_login_at(root: &std::path::Path) -> Option<String> {
    let bytes = std::fs::read(root.join(portcullis_core::model::SETTINGS_FILE)).ok()?;
    // Through the snapshot, so a settings file over the size limit is refused unread.
    let mut snapshot = portcullis_core::snapshot::Snapshot::default();
    snapshot.insert_bytes(portcullis_core::model::SETTINGS_FILE, &bytes);
    let entry = snapshot.get(portcullis_core::model::SETTINGS_FILE).cloned();
    portcullis_core::load::settings(entry)?.bot_login
}
