"""What a process may do: the policy model and the formats people write it in."""
