import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { bootstrap } from './bootstrap';
import { ExplorerStoreProvider } from './state/hooks';
import { App } from './ui/App';

const store = bootstrap();
const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <ExplorerStoreProvider store={store}>
      <App />
    </ExplorerStoreProvider>
  </StrictMode>,
);
