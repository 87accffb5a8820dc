// Placeholder: written in the PromQL engine work (issue 4).
