"""The picture of a ledger's runs: `bulkassoc report LEDGER --html FILE` (needs the `report` extra)."""
