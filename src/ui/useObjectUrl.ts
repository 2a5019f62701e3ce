import { useEffect, useMemo } from 'react';

/** An object URL for bytes, revoked when the bytes change or the component goes. */
export function useObjectUrl(bytes: ArrayBuffer | null | undefined, type: string): string | null {
  const url = useMemo(() => (bytes ? URL.createObjectURL(new Blob([bytes], { type })) : null), [bytes, type]);
  useEffect(
    () => () => {
      if (url) URL.revokeObjectURL(url);
    },
    [url],
  );
  return url;
}
