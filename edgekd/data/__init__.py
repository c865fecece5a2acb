"""Dataset readers, record-wise splits and the feature cache (training side)."""
