"""The access log (HSLF-FS 2016:40 4 kap. 9–10 §§): writing entries, reading them, checking the chain."""
