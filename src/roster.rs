//! CSV roster (being written).
