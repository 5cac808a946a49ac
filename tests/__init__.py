"""credenza's tests: one folder per area of src/credenza, cross-cutting ones at the top."""
