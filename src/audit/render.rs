//! Holders, timelines and evidence packs as text, JSON, CSV and markdown.
