import { EngineFailureBanner, Notices } from './Banners';
import { Header } from './Header';
import { InputPanel } from './InputPanel';
import { LatentPanel } from './LatentPanel';
import { MainView } from './MainView';
import { ModelStatus } from './ModelPicker';
import { ToolTabs } from './ToolTabs';
import './app.css';

/** The page layout: header, messages, the three explorer columns, and the tools below. */
export function App() {
  return (
    <>
      <Header />
      <main className="app-main">
        <ModelStatus />
        <EngineFailureBanner />
        <Notices />
        <div className="explorer">
          <InputPanel />
          <MainView />
          <LatentPanel />
        </div>
        <ToolTabs />
      </main>
      <footer className="app-footer">
        InfoDiffusion (Wang et al., ICML 2023) and Information-Theoretic Diffusion (Kong et al., ICLR 2023),
        re-implemented in the browser. Nothing you upload leaves this page.
      </footer>
    </>
  );
}
