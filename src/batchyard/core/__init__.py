"""The domain of batchyard: job types, policies, statuses and the pure rules that govern them."""
