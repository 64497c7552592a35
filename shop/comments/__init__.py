"""Reader comments on publication pages: posted by readers through a form guarded against spam,
moderated by staff, shown under the publication once approved, erased or purged as the privacy
notice promises."""
