"""What crosses a process, container or cluster boundary: typed, versioned, validated JSON.

Read and written only through this package; anything else is untrusted input.
"""
