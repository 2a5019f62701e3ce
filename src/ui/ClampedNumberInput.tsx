/**
 * A number input for a tool's size setting: what is typed is held to [min, max] at once, and an empty or unreadable
 * value becomes `fallback`, so the setting always holds a usable number.
 */
export function ClampedNumberInput({
  id,
  min,
  max,
  step,
  fallback,
  value,
  onChange,
}: {
  id: string;
  min: number;
  max: number;
  step?: number;
  fallback: number;
  value: number;
  onChange: (value: number) => void;
}) {
  return (
    <input
      id={id}
      type="number"
      min={min}
      max={max}
      step={step}
      value={value}
      onChange={(event) => onChange(Math.max(min, Math.min(max, Number(event.target.value) || fallback)))}
    />
  );
}
