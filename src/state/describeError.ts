/** An error's own words for the UI: the message of an Error (engine, loader, decoder), else its text. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
