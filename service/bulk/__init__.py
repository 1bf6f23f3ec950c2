"""The bulk import: a region's open cases from a file, validated as the intake does, in batches."""
