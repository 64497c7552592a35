"""The staff comments pages: the moderation queue, each comment, each publication's comments,
and erasure (``/staff/comments``)."""
