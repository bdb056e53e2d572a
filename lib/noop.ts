// One function that does nothing: a rejection handled on another path (`promise.catch(noop)`), a promise's value
// dropped (`.then(noop)`), an `'error'` whose reason is read elsewhere.

/** Does nothing, returns undefined. */
export const noop = (): void => undefined;
