"""Access: sign-in messages (EIP-4361) and the members' role flags as the contracts define them.

May import only the base modules (`errors`, `paths`, `clock`): everything else may use it.
"""
