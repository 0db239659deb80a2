"""The MIPO method: pair construction, TRL training (DPO and the SFT baseline), diagnostics, rounds."""
