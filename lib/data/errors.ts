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

/**
 * A path the user named (a notebook parameter, an environment variable, an
 * option, or the project's data folder holding part of a dataset) does not
 * hold the dataset. Unlike {@link DatasetNotFoundError} this is a mistake to
 * fix, not a dataset that is simply absent, so the headless runner reports it
 * as a failure rather than a skip. The message names the path, what is wrong
 * with it and how to fix it.
 */
export class DatasetPathError extends Error {
  override name = "DatasetPathError";
}
