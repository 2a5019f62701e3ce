/** Small stroke icons (inline SVG: no icon font, no emoji, same look on every system). */
const common = {
  width: 16,
  height: 16,
  viewBox: '0 0 16 16',
  fill: 'none',
  stroke: 'currentColor',
  strokeWidth: 1.6,
  strokeLinecap: 'round',
  strokeLinejoin: 'round',
  'aria-hidden': true,
} as const;

export function LockIcon({ closed }: { closed: boolean }) {
  return (
    <svg {...common}>
      <rect x="3.5" y="7" width="9" height="6.5" rx="1.5" />
      {closed ? <path d="M5.5 7V5a2.5 2.5 0 0 1 5 0v2" /> : <path d="M5.5 7V5a2.5 2.5 0 0 1 4.9-.7" />}
    </svg>
  );
}

export function ResetIcon() {
  return (
    <svg {...common}>
      <path d="M3 8a5 5 0 1 0 1.6-3.7" />
      <path d="M3 2.5v3h3" />
    </svg>
  );
}

export function PlayIcon() {
  return (
    <svg {...common}>
      <path d="M5 3.5v9l7-4.5z" fill="currentColor" />
    </svg>
  );
}

export function PauseIcon() {
  return (
    <svg {...common}>
      <path d="M5.5 3.5v9M10.5 3.5v9" />
    </svg>
  );
}
