"""The infrastructure wing: synth, Terraform runs, apply, plan and its guard, check, the checkov gate."""
