"""The gateway's vocabulary, as its glossary (`shared/reference/seed-api-glossary.txt`) defines it: the one
place the message statuses are spelled out. The client, the transforms, the warehouse's ENUM and the sandbox
all take them from here."""

# The glossary's message statuses, in lifecycle order (the warehouse's ENUM sorts by it; the sandbox stores a
# status as its index here).
MESSAGE_STATUSES = ("NEW", "ENQUEUD", "ACCEPTD", "PDLIVRD", "DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "DELETED")
# Final: the gateway changes nothing after them (the glossary's "final: yes"). PDLIVRD is not final: it turns
# DELIVRD once the validity period ends.
FINAL_STATUSES = frozenset({"DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "DELETED"})
# What the pipeline stores for a status outside the glossary (the wire value is kept beside it). The gateway's
# own counters have an UNKNOWN key too (the reference's F1).
UNKNOWN_STATUS = "UNKNOWN"
