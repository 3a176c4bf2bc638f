// Phone inputs as the spec lists them (`2065551234`, `+12065551234`, `(206) 555-1234`,
// `206-555-1234`) become an E.164 `value` and a readable `displayValue`, as Spruce returns them.

export interface NormalizedPhone {
  /** E.164, e.g. `+12065551234`. */
  value: string;
  /** e.g. `(206) 555-1234`. */
  displayValue: string;
}

/**
 * North American numbers need an area code and exchange starting 2–9 (what a real phone
 * library rejects otherwise); other countries are accepted only already in `+` E.164 form.
 * Returns null for anything that is not a phone number.
 */
export function normalizePhone(input: string): NormalizedPhone | null {
  const trimmed = input.trim();
  if (!/^[+\d\s().-]+$/.test(trimmed)) return null;
  const digits = trimmed.replace(/\D/g, '');
  const international = trimmed.startsWith('+');
  let national: string | null = null;
  if (!international && digits.length === 10) national = digits;
  else if (digits.length === 11 && digits.startsWith('1')) national = digits.slice(1);
  if (national !== null) {
    if (!/^[2-9]\d{2}[2-9]\d{6}$/.test(national)) return null;
    return {
      value: `+1${national}`,
      displayValue: `(${national.slice(0, 3)}) ${national.slice(3, 6)}-${national.slice(6)}`,
    };
  }
  // +1 is the North American plan: only the 11-digit form above is valid there.
  if (international && !digits.startsWith('1') && digits.length >= 8 && digits.length <= 15 && !digits.startsWith('0')) {
    return { value: `+${digits}`, displayValue: `+${digits}` };
  }
  return null;
}
