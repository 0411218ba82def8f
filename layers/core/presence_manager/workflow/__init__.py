"""The steps of the presence-change workflow; each Lambda handler calls one of these."""
