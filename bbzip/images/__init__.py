"""Image inputs recognised by content: detection, tar scanning, whole-image blocks, and the
natural-image block framing (coder 0x06). Beneath api; never imports it."""
