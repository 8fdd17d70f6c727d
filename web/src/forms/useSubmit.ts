import { useCallback, useRef, useState } from 'react';
import { ApiError } from '../api/errors';
import type { Errors } from './validate';

/**
 * Runs a form's submit action: tracks busy state, keeps the error for a banner, and merges the
 * client's field errors with the server's `errors[].field` so each shows at its field.
 */
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [clientErrors, setClientErrors] = useState<Errors>({});

  const run = useCallback(async (validation: Errors, action: () => Promise<void>): Promise<boolean> => {
    setClientErrors(validation);
    setError(null);
    if (Object.keys(validation).length > 0) return false;
    setBusy(true);
    try {
      await action();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);

  // The fields this form shows errors at (those it asks about while rendering).
  const shownFields = useRef(new Set<string>());
  const fieldError = useCallback(
    (field: string): string | undefined => {
      shownFields.current.add(field);
      return clientErrors[field] ?? (error instanceof ApiError ? error.fieldError(field) : undefined);
    },
    [clientErrors, error],
  );

  /**
   * The error for the banner: everything but a validation error whose every field error already
   * shows at a field of this form (its `detail` repeats them; saying it twice reads as two errors).
   */
  const bannerError =
    error instanceof ApiError &&
    error.code === 'invalid_request' &&
    error.fieldErrors.length > 0 &&
    error.fieldErrors.every((e) => [...shownFields.current].some((f) => shownAt(error, f) === e))
      ? null
      : error;

  const reset = useCallback(() => {
    setError(null);
    setClientErrors({});
  }, []);

  return { busy, error: bannerError, fieldError, run, reset };
}

/** The server's field error that `field` shows, as ApiError.fieldError picks it. */
function shownAt(error: ApiError, field: string) {
  return (
    error.fieldErrors.find((e) => e.field === field) ??
    error.fieldErrors.find((e) => e.field.startsWith(`${field}.`) || e.field.startsWith(`${field}[`))
  );
}
