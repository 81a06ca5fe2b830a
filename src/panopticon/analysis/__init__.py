"""Analysis across runs: headline metrics, compare and sweep."""
