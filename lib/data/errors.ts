/**
 * Errors the data loaders throw, named so that notebooks and the headless
 * runner can tell "no data here" apart from a crash.
 *
 * @module
 */

/**
 * A dataset was not found. The message names the paths searched and how to
 * get the data; the headless runner reports a notebook stopped by this error
 * as skipped for lack of data.
 */
export class DatasetNotFoundError extends Error {
  override name = "DatasetNotFoundError";
}

/** A dataset file exists but is malformed; the message names the file and the fault. */
export class DatasetFormatError extends Error {
  override name = "DatasetFormatError";
}
