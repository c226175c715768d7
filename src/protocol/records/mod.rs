//! Record batches (magic 2), legacy message sets (magic 0 and 1) and their
//! compression codecs.
