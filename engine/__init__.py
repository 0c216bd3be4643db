"""Pure domain of Signoff: records, workflows, conditions and the approval state machine."""
