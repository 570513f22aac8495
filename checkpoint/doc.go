// Package checkpoint stores premetrics' aggregation state on disk, so a
// restart continues the open windows, counter baselines and dedup state
// instead of starting empty. It owns the files and their framing; what a
// frame holds belongs to the package that wrote it (aggregate).
//
// # Files
//
// Two files live in the checkpoint directory (<--storage.path>/checkpoint):
//
//	state      the full state, written periodically and at shutdown
//	emitted    the watermark of every aggregation, written before a Flush
//	           emits windows
//
// Both are replaced atomically: written to a temporary file in the same
// directory, fsynced, renamed over the old one, and the directory
// fsynced. A crash leaves either the old or the new file, never a mix.
//
// emitted exists because windows leave between checkpoints: it is
// written (and fsynced) before the outputs of a Flush are handed to
// remote write, so after a crash every window that may have left is known
// to be closed, and a restarted premetrics never emits a window twice
// (Prometheus would reject the second with 400). A window that was
// announced there but had not left when the process died is lost, not
// duplicated.
//
// # Format
//
// A file is a magic string and a sequence of frames:
//
//	file    = magic frame* end
//	magic   = "PMCKPT" 0x00 0x01                  (8 bytes; the last is the version)
//	frame   = kind:byte  len:uvarint  payload:len bytes  crc:uint32le
//	end     = 'E' len:uvarint(8) count:uint64le crc:uint32le
//
// crc is CRC-32C (Castagnoli) of kind, len and payload; count in the end
// frame is the number of frames before it, so a file cut short after a
// frame boundary is detected too. Frame kinds:
//
//	'A'  begins the section of one aggregation: name (uvarint length and
//	     bytes) and the 32-byte SHA-256 fingerprint of its definition;
//	     the frames that follow, up to the next 'A' or the end, are its own
//	'D'  data of the current section, opaque here
//	'W'  in emitted: name and watermark (int64le, Unix ms)
//
// A section is restored only if its fingerprint equals that of the
// aggregation configured now: a changed definition (interval, grouping,
// outputs, relabeling, limits) starts empty, as it would on reload. A
// frame whose CRC does not match makes Read fail for the whole file: the
// caller starts empty and says so, since state that cannot be trusted
// would emit wrong windows.
package checkpoint
